//! Docker's tabwriter (its fork of Go's text/tabwriter): tab-terminated cells aligned in
//! column blocks of consecutive lines, widths measured in terminal columns, a line without
//! tabs ending every block above it. Docker's tables use minwidth 10, padding 3, spaces.

use unicode_width::UnicodeWidthStr;

struct Cell {
    text: String,
    width: usize,
}

/// Aligns `text` as docker's `tabwriter.NewWriter(out, minwidth, 1, padding, ' ', 0)`
/// would after writing it all and flushing.
pub fn align(text: &str, minwidth: usize, padding: usize) -> String {
    let mut w = Writer {
        minwidth,
        padding,
        lines: vec![Vec::new()],
        widths: Vec::new(),
        out: String::with_capacity(text.len() * 2),
    };
    let mut cell = String::new();
    for ch in text.chars() {
        match ch {
            '\t' | '\u{b}' | '\n' | '\u{c}' => {
                let ncells = w.terminate(std::mem::take(&mut cell));
                if ch == '\n' || ch == '\u{c}' {
                    w.lines.push(Vec::new());
                    if ch == '\u{c}' || ncells == 1 {
                        w.flush();
                    }
                }
            }
            c => cell.push(c),
        }
    }
    if !cell.is_empty() {
        w.terminate(cell);
    }
    w.flush();
    w.out
}

struct Writer {
    minwidth: usize,
    padding: usize,
    lines: Vec<Vec<Cell>>,
    widths: Vec<usize>,
    out: String,
}

impl Writer {
    fn terminate(&mut self, text: String) -> usize {
        let width = UnicodeWidthStr::width(text.as_str());
        let line = self.lines.last_mut();
        match line {
            Some(l) => {
                l.push(Cell { text, width });
                l.len()
            }
            None => 0,
        }
    }

    fn flush(&mut self) {
        let n = self.lines.len();
        self.format(0, n);
        self.lines = vec![Vec::new()];
        self.widths.clear();
    }

    /// Whether `line` has a cell in `column` that is not its last.
    fn in_column(&self, line: usize, column: usize) -> bool {
        column + 1 < self.lines[line].len()
    }

    fn format(&mut self, mut line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if !self.in_column(this, column) {
                this += 1;
                continue;
            }
            self.write_lines(line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && self.in_column(this, column) {
                let c = &self.lines[this][column];
                width = width.max(c.width + self.padding);
                this += 1;
            }
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for i in line0..line1 {
            for (j, c) in self.lines[i].iter().enumerate() {
                self.out.push_str(&c.text);
                if let Some(w) = self.widths.get(j) {
                    let pad = w.saturating_sub(c.width);
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if i + 1 < self.lines.len() {
                self.out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::align;

    #[test]
    fn aligns_like_docker() {
        assert_eq!(
            align("REPOSITORY\tTAG\tSIZE\nbusybox\tlatest\t4.26MB\n", 10, 3),
            "REPOSITORY   TAG       SIZE\nbusybox      latest    4.26MB\n"
        );
        // A line without tabs ends the block: the lines after it align on their own.
        assert_eq!(
            align("a\tb\nlonger-cell\tc\nplain\nx\ty\n", 10, 3),
            "a             b\nlonger-cell   c\nplain\nx         y\n"
        );
        // Wide characters count as two columns.
        assert_eq!(align("日本\tx\nab\ty\n", 1, 1), "日本 x\nab   y\n");
        // Empty cells in the middle are padded; text without a newline ends as it is.
        assert_eq!(align("a\t\tc", 2, 1), "a   c");
    }
}
