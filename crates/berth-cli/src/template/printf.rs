//! Go's `fmt.Sprintf` as templates use it (`printf "%-10s %5.2f" .A .B`): flags, widths,
//! precisions and the verbs %v %s %q %d %t %x %X %o %b %c %U %e %E %f %F %g %G %T %%, with
//! Go's `%!d(string=x)`, `%!d(MISSING)` and `%!(EXTRA ...)` for mismatches; and Go's
//! `strconv.Quote`/`Unquote`.

use super::value::{NilKind, Schema, Val};

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_with(s, false)
}

/// Go's `strconv.QuoteToASCII` (`%+q`) when `ascii`, else `strconv.Quote`.
fn quote_with(s: &str, ascii: bool) -> String {
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
fn can_backquote(s: &str) -> bool {
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

fn quote_char(out: &mut String, c: char, q: char) {
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

/// A float in exponent form, Go style (`1.5e+06`, at least two exponent digits).
pub fn format_e(f: f64, prec: usize, e: char) -> String {
    let p = prec.min(EXACT_DIGITS);
    let s = format!("{f:.p$e}");
    let s = match s.split_once('e') {
        Some((m, x)) if prec > p => format!("{m}{}e{x}", "0".repeat(prec - p)),
        _ => s,
    };
    go_exponent(&s, e)
}

/// Go's limit on widths and precisions.
const TOO_LARGE: usize = 1_000_000;

/// More decimals than any f64 has (the smallest subnormal needs 1074): the rest are zeros,
/// and Rust's formatter refuses precisions above 65535.
const EXACT_DIGITS: usize = 1100;

/// `%.{prec}f`.
fn format_fixed(f: f64, prec: usize) -> String {
    let p = prec.min(EXACT_DIGITS);
    let mut s = format!("{f:.p$}");
    s.push_str(&"0".repeat(prec - p));
    s
}

fn go_exponent(rust: &str, e: char) -> String {
    match rust.split_once('e') {
        Some((m, x)) => {
            let (sign, digits) = match x.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', x),
            };
            let pad = if digits.len() < 2 { "0" } else { "" };
            format!("{m}{e}{sign}{pad}{digits}")
        }
        None => rust.to_owned(),
    }
}

/// Go's `%g` (and `%v` of a float): the shortest form when `prec` is None.
pub fn format_g(f: f64, prec: Option<usize>, e: char) -> String {
    if !f.is_finite() {
        return special(f);
    }
    let (mantissa, exp) = match prec {
        None => {
            let s = format!("{f:e}");
            split_exp(&s)
        }
        Some(p) => {
            let p = p.clamp(1, EXACT_DIGITS) - 1;
            let s = format!("{f:.p$e}");
            split_exp(&s)
        }
    };
    let m = mantissa
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned();
    let nd = m.chars().filter(char::is_ascii_digit).count();
    let dp = exp + 1;
    let eprec = match prec {
        None => 6,
        Some(p) => {
            let p = i64::try_from(p.max(1)).unwrap_or(i64::MAX);
            let nd = i64::try_from(nd).unwrap_or(0);
            if p > nd && nd >= dp { nd } else { p }
        }
    };
    if exp < -4 || exp >= eprec {
        return go_exponent(&format!("{m}e{exp}"), e);
    }
    let nd = i64::try_from(nd).unwrap_or(0);
    let decimals = usize::try_from((nd - dp).max(0)).unwrap_or(0);
    format!("{f:.decimals$}")
}

fn split_exp(s: &str) -> (String, i64) {
    match s.split_once('e') {
        Some((m, x)) => (m.to_owned(), x.parse().unwrap_or(0)),
        None => (s.to_owned(), 0),
    }
}

fn special(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

impl Spec {
    fn pad(&self, s: &str) -> String {
        let n = s.chars().count();
        let Some(w) = self.width.filter(|w| *w > n) else {
            return s.to_owned();
        };
        let fill = " ".repeat(w - n);
        if self.minus {
            format!("{s}{fill}")
        } else {
            format!("{fill}{s}")
        }
    }

    /// Pads a string: with zeros on the left under the `0` flag, as Go's fmt does.
    fn pad_str(&self, s: &str) -> String {
        match self.width {
            Some(w) if self.zero && !self.minus => {
                let n = s.chars().count();
                format!("{}{s}", "0".repeat(w.saturating_sub(n)))
            }
            _ => self.pad(s),
        }
    }

    /// Pads a number: zeros go after the sign with the `0` flag.
    fn pad_num(&self, s: &str) -> String {
        let n = s.chars().count();
        match self.width {
            Some(w) if self.zero && !self.minus && w > n => {
                let (sign, digits) = match s.chars().next() {
                    Some(c @ ('+' | '-' | ' ')) => (c.to_string(), &s[1..]),
                    _ => (String::new(), s),
                };
                format!("{sign}{}{digits}", "0".repeat(w - n))
            }
            _ => self.pad(s),
        }
    }

    fn sign(&self, neg: bool, body: String) -> String {
        if neg {
            format!("-{body}")
        } else if self.plus {
            format!("+{body}")
        } else if self.space {
            format!(" {body}")
        } else {
            body
        }
    }
}

/// Go's `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Val<'_>], schema: &Schema) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = !spec.minus,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
                      argi: &mut usize,
                      out: &mut String,
                      what: &str|
         -> Option<usize> {
            if chars.peek() == Some(&'*') {
                chars.next();
                let v = args.get(*argi).cloned();
                *argi += 1;
                let n = match v {
                    Some(Val::Int(i)) => usize::try_from(i).ok(),
                    Some(Val::Uint(u)) => usize::try_from(u).ok(),
                    _ => None,
                };
                // Go's fmt refuses numbers above 1e6 ("tooLarge").
                return match n.filter(|n| *n <= TOO_LARGE) {
                    Some(n) => Some(n),
                    None => {
                        out.push_str(&format!("%!({what})"));
                        None
                    }
                };
            }
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                if n.is_some_and(|n| n > TOO_LARGE) {
                    // Go gives up on the rest of the format: "%!(NOVERB)".
                    for _ in chars.by_ref() {}
                    return None;
                }
                chars.next();
                n = Some(n.unwrap_or(0) * 10 + d as usize);
            }
            n
        };
        spec.width = number(&mut chars, &mut argi, &mut out, "BADWIDTH");
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars, &mut argi, &mut out, "BADPREC").unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argi) {
            Some(a) => out.push_str(&format_arg(a, verb, &spec, schema)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        argi += 1;
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&a.type_name(schema));
            out.push('=');
            out.push_str(&format_arg(a, 'v', &Spec::default(), schema));
        }
        out.push(')');
    }
    out
}

fn bad_verb(a: &Val<'_>, verb: char, schema: &Schema) -> String {
    match a {
        Val::Missing | Val::Nil(_) => format!("%!{verb}(<nil>)"),
        _ => format!(
            "%!{verb}({}={})",
            a.type_name(schema),
            format_arg(a, 'v', &Spec::default(), schema)
        ),
    }
}

fn format_arg(a: &Val<'_>, verb: char, spec: &Spec, schema: &Schema) -> String {
    if verb == 'T' {
        let t = match a {
            Val::Missing => "<nil>".to_owned(),
            _ => a.type_name(schema),
        };
        return spec.pad(&t);
    }
    match a {
        Val::Missing | Val::Nil(NilKind::Iface | NilKind::Ptr) if verb == 'v' => spec.pad("<nil>"),
        Val::Nil(k @ (NilKind::Slice | NilKind::Map)) => spec.pad(&Val::Nil(*k).print(schema)),
        Val::Bool(b) if matches!(verb, 'v' | 't') => spec.pad(if *b { "true" } else { "false" }),
        Val::Int(i) => format_int(i.unsigned_abs(), *i < 0, verb, spec)
            .unwrap_or_else(|| bad_verb(a, verb, schema)),
        Val::Uint(u) => {
            format_int(*u, false, verb, spec).unwrap_or_else(|| bad_verb(a, verb, schema))
        }
        Val::Float(f) => format_float(*f, verb, spec).unwrap_or_else(|| bad_verb(a, verb, schema)),
        Val::Str(s) | Val::JsonNum(s) => {
            format_str(s, verb, spec).unwrap_or_else(|| bad_verb(a, verb, schema))
        }
        Val::Arr(..) | Val::List(_) => {
            let items: Vec<String> = a
                .elements(schema)
                .unwrap_or_default()
                .iter()
                .map(|e| format_arg(e, verb, &Spec::default(), schema))
                .collect();
            spec.pad(&format!("[{}]", items.join(" ")))
        }
        Val::Obj(..)
            if matches!(verb, 'v' | 's' | 'd' | 'q' | 'x')
                && let Some(fields) = a.struct_view(schema) =>
        {
            // Go's structs: `{a b}`, `%+v` names the fields.
            let items: Vec<String> = fields
                .iter()
                .map(|(name, v)| {
                    let item = format_arg(v, verb, &Spec::default(), schema);
                    if verb == 'v' && spec.plus {
                        format!("{name}:{item}")
                    } else {
                        item
                    }
                })
                .collect();
            spec.pad(&format!("{{{}}}", items.join(" ")))
        }
        Val::Obj(m, _, k) if matches!(verb, 'v' | 's' | 'd' | 'q' | 'x') => {
            let items: Vec<String> = m
                .keys()
                .map(|n| {
                    let v = Val::entry(m, *k, n, schema);
                    format!("{n}:{}", format_arg(&v, verb, &Spec::default(), schema))
                })
                .collect();
            spec.pad(&format!("map[{}]", items.join(" ")))
        }
        _ => bad_verb(a, verb, schema),
    }
}

fn format_int(mag: u64, neg: bool, verb: char, spec: &Spec) -> Option<String> {
    let digits = match verb {
        'v' | 'd' => mag.to_string(),
        'b' => format!("{mag:b}"),
        'o' | 'O' => format!("{mag:o}"),
        'x' => format!("{mag:x}"),
        'X' => format!("{mag:X}"),
        'c' => {
            let c = u32::try_from(mag)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return Some(spec.pad(&c.to_string()));
        }
        'q' => {
            let c = u32::try_from(mag)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            let mut s = String::from("'");
            quote_char(&mut s, c, '\'');
            s.push('\'');
            return Some(spec.pad(&s));
        }
        'U' => return Some(spec.pad(&format!("U+{mag:04X}"))),
        _ => return None,
    };
    let mut digits = match spec.prec {
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        Some(0) if mag == 0 => String::new(),
        _ => digits,
    };
    if spec.sharp {
        digits = match verb {
            'x' => format!("0x{digits}"),
            'X' => format!("0X{digits}"),
            'o' if !digits.starts_with('0') => format!("0{digits}"),
            'b' => format!("0b{digits}"),
            _ => digits,
        };
    }
    if verb == 'O' {
        digits = format!("0o{digits}");
    }
    let s = spec.sign(neg, digits);
    Some(if spec.prec.is_some() {
        spec.pad(&s)
    } else {
        spec.pad_num(&s)
    })
}

fn format_float(f: f64, verb: char, spec: &Spec) -> Option<String> {
    if !f.is_finite() {
        let s = special(f);
        let s = if s == "+Inf" && !spec.plus {
            "Inf".to_owned()
        } else {
            s
        };
        return Some(spec.pad(&s));
    }
    let neg = f.is_sign_negative() && f != 0.0;
    let a = f.abs();
    let body = match verb {
        'v' | 'g' => format_g(a, spec.prec, 'e'),
        'G' => format_g(a, spec.prec, 'E'),
        'e' => format_e(a, spec.prec.unwrap_or(6), 'e'),
        'E' => format_e(a, spec.prec.unwrap_or(6), 'E'),
        'f' | 'F' => format_fixed(a, spec.prec.unwrap_or(6)),
        _ => return None,
    };
    Some(spec.pad_num(&spec.sign(neg, body)))
}

fn format_str(s: &str, verb: char, spec: &Spec) -> Option<String> {
    let cut = |s: &str| -> String {
        match spec.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_owned(),
        }
    };
    Some(match verb {
        'v' if spec.sharp => spec.pad_str(&quote(s)),
        'v' | 's' => spec.pad_str(&cut(s)),
        'q' if spec.sharp && can_backquote(&cut(s)) => spec.pad_str(&format!("`{}`", cut(s))),
        'q' => spec.pad_str(&quote_with(&cut(s), spec.plus)),
        'x' | 'X' => {
            let bytes = match spec.prec {
                Some(p) => &s.as_bytes()[..p.min(s.len())],
                None => s.as_bytes(),
            };
            let sep = if spec.space { " " } else { "" };
            let hex: Vec<String> = bytes
                .iter()
                .map(|b| {
                    if verb == 'x' {
                        format!("{b:02x}")
                    } else {
                        format!("{b:02X}")
                    }
                })
                .collect();
            spec.pad_str(&hex.join(sep))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn s(v: &str) -> Val<'static> {
        Val::Str(Cow::Owned(v.to_owned()))
    }

    #[test]
    fn verbs_as_go() {
        let p = |f: &str, a: &[Val<'_>]| sprintf(f, a, &Schema::PLAIN);
        assert_eq!(
            p(
                "%5.2f|%-6s|%6s|%q|%x|%X|%t|%d|%e|%03d|%+d",
                &[
                    Val::Float(3.14259),
                    s("ab"),
                    s("cd"),
                    s("q\"x"),
                    s("hi"),
                    Val::Int(255),
                    Val::Bool(true),
                    Val::Int(42),
                    Val::Float(1234.5678),
                    Val::Int(7),
                    Val::Int(5)
                ]
            ),
            " 3.14|ab    |    cd|\"q\\\"x\"|6869|FF|true|42|1.234568e+03|007|+5"
        );
        assert_eq!(
            p("%d %s", &[s("x"), Val::Int(5)]),
            "%!d(string=x) %!s(int=5)"
        );
        assert_eq!(p("%d", &[]), "%!d(MISSING)");
        assert_eq!(p("%d", &[Val::Int(1), Val::Int(2)]), "1%!(EXTRA int=2)");
        assert_eq!(
            p(
                "%v|%v|%v",
                &[Val::Float(1e6), Val::Float(123456.0), Val::Float(1e-4)]
            ),
            "1e+06|123456|0.0001"
        );
        assert_eq!(
            p(
                "%.3g|%g|%G",
                &[Val::Float(1234.5), Val::Float(0.00001), Val::Float(1e21)]
            ),
            "1.23e+03|1e-05|1E+21"
        );
        assert_eq!(
            p("%-4d|%4d|%x", &[Val::Int(-3), Val::Int(-3), Val::Int(-255)]),
            "-3  |  -3|-ff"
        );
        assert_eq!(p("%v", &[Val::Missing]), "<nil>");
        assert_eq!(p("100%%", &[]), "100%");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\n\u{1}é"), "\"a\\\"b\\n\\x01é\"");
        assert_eq!(unquote("\"a\\tb\\u00e9\\x41\"").as_deref(), Ok("a\tbéA"));
        assert_eq!(unquote("`a\\n`").as_deref(), Ok("a\\n"));
        assert!(unquote("\"a\\q\"").is_err());
    }
}
