//! Go's `strconv.Quote`, `QuoteToASCII`, `CanBackquote` and `Unquote`, and what Go's
//! `unicode.IsPrint` counts as printable.

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_with(s, false)
}

/// Go's `strconv.QuoteToASCII` (`%+q`) when `ascii`, else `strconv.Quote`.
pub(super) fn quote_with(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if ascii && !c.is_ascii() {
            let n = u32::from(c);
            if n < 0x10000 {
                out.push_str(&format!("\\u{n:04x}"));
            } else {
                out.push_str(&format!("\\U{n:08x}"));
            }
        } else {
            quote_char(&mut out, c, '"');
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.CanBackquote`.
pub(super) fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c == '\t' || !(c == '`' || c == '\u{feff}' || c.is_control()))
}

/// Go's `unicode.IsPrint`, near enough: letters, marks, numbers, punctuation, symbols and
/// the ASCII space; not controls, other spaces and separators, format characters,
/// private use or non-characters.
pub fn is_print(c: char) -> bool {
    let n = u32::from(c);
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(n, 0xa0 | 0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x206f)
        || matches!(
            n,
            0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x3000
        )
        || matches!(n, 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xf0000..)
        || n & 0xfffe == 0xfffe)
}

pub(super) fn quote_char(out: &mut String, c: char, q: char) {
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == q => {
            out.push('\\');
            out.push(c);
        }
        c if !is_print(c) => {
            let n = u32::from(c);
            if n < 0x80 {
                out.push_str(&format!("\\x{n:02x}"));
            } else if n < 0x10000 {
                out.push_str(&format!("\\u{n:04x}"));
            } else {
                out.push_str(&format!("\\U{n:08x}"));
            }
        }
        c => out.push(c),
    }
}

/// Go's `strconv.Unquote` for "..." and `...` literals.
pub fn unquote(s: &str) -> Result<String, String> {
    let bad = || "invalid syntax".to_owned();
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(raw.replace('\r', ""));
    }
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(bad)?;
    let mut out = String::new();
    let mut it = inner.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = it.next().ok_or_else(bad)?;
        let mut hex = |n: usize| -> Result<u32, String> {
            let s: String = (0..n).filter_map(|_| it.next()).collect();
            if s.len() != n {
                return Err(bad());
            }
            u32::from_str_radix(&s, 16).map_err(|_| bad())
        };
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => {
                let n = hex(2)?;
                out.push(char::from_u32(n).ok_or_else(bad)?);
            }
            'u' => out.push(char::from_u32(hex(4)?).ok_or_else(bad)?),
            'U' => out.push(char::from_u32(hex(8)?).ok_or_else(bad)?),
            '0'..='7' => {
                let a = e.to_digit(8).unwrap_or(0);
                let b = it.next().and_then(|c| c.to_digit(8)).ok_or_else(bad)?;
                let c = it.next().and_then(|c| c.to_digit(8)).ok_or_else(bad)?;
                out.push(char::from_u32(a * 64 + b * 8 + c).ok_or_else(bad)?);
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}
