//! From text to logical lines, as BuildKit's parser reads them: parser directives at the
//! top, comments dropped (also between continued lines), the escape character continuing a
//! line, empty continuation lines skipped, and the bodies of heredocs taken from the lines
//! after the instruction that opens them.

use super::error::ErrorKind;
use super::words::heredocs_in_line;
use super::{Directives, Heredoc};

/// One instruction's text: where it starts, where it ends, its logical line (continuations
/// joined) and the heredocs it opened, in order.
#[derive(Debug)]
pub(crate) struct RawLine {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub text: String,
    /// How many characters of `text` come from the first physical line (for columns).
    pub first_len: usize,
    pub heredocs: Vec<Heredoc>,
}

/// An error at a line and column.
pub(crate) type LineError = (usize, usize, ErrorKind);

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

fn is_comment(line: &str) -> bool {
    line.trim_start_matches(is_space).starts_with('#')
}

/// The line without its continuation (the escape character then blanks at its end), and
/// whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    match body.strip_suffix(escape) {
        Some(rest) => (rest, false),
        None => (line, true),
    }
}

/// `# name=value` with a known name (syntax, escape, check), as BuildKit's regex
/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_space);
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let name = rest[..name_len].to_ascii_lowercase();
    let value = rest[name_len..]
        .trim_start_matches(is_space)
        .strip_prefix('=')?
        .trim_matches(is_space);
    if value.is_empty() || !matches!(name.as_str(), "syntax" | "escape" | "check") {
        return None;
    }
    Some((name, value.to_string()))
}

struct DirectiveState {
    done: bool,
    seen: Vec<String>,
}

impl DirectiveState {
    fn line(&mut self, line: &str, out: &mut Directives) -> Result<(), ErrorKind> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        if self.seen.contains(&name) {
            return Err(ErrorKind::DuplicateDirective(name));
        }
        self.seen.push(name.clone());
        match name.as_str() {
            "escape" => {
                out.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err(ErrorKind::BadEscape(value)),
                }
            }
            "syntax" => out.syntax = Some(value),
            _ => out.check = Some(value),
        }
        Ok(())
    }
}

/// Whether an instruction may open heredocs (RUN, COPY, ADD, also as ONBUILD's trigger).
fn takes_heredocs(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let mut first = words.next().unwrap_or("");
    if first.eq_ignore_ascii_case("onbuild") {
        first = words.next().unwrap_or("");
    }
    ["run", "copy", "add"]
        .iter()
        .any(|k| first.eq_ignore_ascii_case(k))
}

/// Split `text` into logical lines; the directives are read first.
pub(crate) fn logical_lines(
    text: &str,
    max_lines: usize,
) -> Result<(Directives, Vec<RawLine>), LineError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let phys: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    // A final newline does not open one more (empty) line.
    let count = if text.ends_with('\n') {
        phys.len() - 1
    } else {
        phys.len()
    };
    let mut directives = Directives::default();
    let mut state = DirectiveState {
        done: false,
        seen: Vec::new(),
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < count {
        let raw = phys[i];
        i += 1;
        let start = i;
        let trimmed = raw.trim_start_matches(is_space);
        let column = raw[..raw.len() - trimmed.len()].chars().count() + 1;
        state
            .line(trimmed, &mut directives)
            .map_err(|k| (start, column, k))?;
        let escape = directives.escape;
        let content = if is_comment(trimmed) { "" } else { trimmed };
        let (content, mut end) = trim_continuation(content, escape);
        if end && content.is_empty() {
            continue;
        }
        let mut line = content.to_string();
        let first_len = content.chars().count();
        while !end && i < count {
            let raw = phys[i];
            i += 1;
            if is_comment(raw) || raw.trim_start_matches(is_space).is_empty() {
                continue;
            }
            let (c, e) = trim_continuation(raw, escape);
            line.push_str(c);
            end = e;
        }
        let mut heredocs = Vec::new();
        if line.contains("<<") && takes_heredocs(&line) {
            let opened = heredocs_in_line(&line).map_err(|k| (start, column, k))?;
            for mut doc in opened {
                let mut terminated = false;
                while i < count {
                    let body = phys[i];
                    i += 1;
                    let candidate = if doc.chomp {
                        body.trim_start_matches('\t')
                    } else {
                        body
                    };
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(if doc.chomp {
                        body.trim_start_matches('\t')
                    } else {
                        body
                    });
                    doc.content.push('\n');
                }
                if !terminated {
                    return Err((start, column, ErrorKind::UnterminatedHeredoc));
                }
                heredocs.push(doc);
            }
        }
        if out.len() >= max_lines {
            return Err((start, column, ErrorKind::TooManyInstructions(max_lines)));
        }
        out.push(RawLine {
            line: start,
            column,
            end_line: i,
            text: line,
            first_len,
            heredocs,
        });
    }
    Ok((directives, out))
}
