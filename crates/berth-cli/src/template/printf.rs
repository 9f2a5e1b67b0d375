//! Go's `fmt.Sprintf` as templates use it (`printf "%-10s %5.2f" .A .B`): flags, argument
//! indexes (`%[2]d`), widths and precisions (`*` included) and the verbs %v %s %q %d %t %x
//! %X %o %O %b %c %U %e %E %f %F %g %G %T %%, with Go's `%!d(string=x)`, `%!d(MISSING)`,
//! `%!d(BADINDEX)` and `%!(EXTRA ...)` for mismatches. Floats are in `float`, quoting in
//! `quote`.

use std::borrow::Cow;

use super::value::{NilKind, Schema, Val};

mod float;
mod quote;

use float::format_float;
pub use float::format_g;
use quote::{can_backquote, quote_char, quote_with};
pub use quote::{is_print, quote, unquote};

/// Go's limit on widths and precisions.
const TOO_LARGE: usize = 1_000_000;

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
    /// `%+v` and `%#v`: Go moves `+` and `#` here for the `v` verb.
    plus_v: bool,
    sharp_v: bool,
}

impl Spec {
    /// Go's `fmt.pad`: to the width, with zeros on the left under the `0` flag.
    fn pad(&self, s: &str) -> String {
        if self.zero && !self.minus {
            let n = s.chars().count();
            return match self.width.filter(|w| *w > n) {
                Some(w) => format!("{}{s}", "0".repeat(w - n)),
                None => s.to_owned(),
            };
        }
        self.pad_spaces(s)
    }

    /// Pads with spaces whatever the flags (integers with a precision, Inf and NaN).
    fn pad_spaces(&self, s: &str) -> String {
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

/// Go's `fmt.Sprintf(format, args...)`, following its `doPrintf`: flags, an argument
/// index (`%[2]d`), width and precision (`*` takes an argument), then the verb.
pub fn sprintf(format: &str, args: &[Val<'_>], schema: &Schema) -> String {
    let chars: Vec<char> = format.chars().collect();
    let end = chars.len();
    let mut out = String::new();
    let mut p = Args {
        n: args.len(),
        num: 0,
        reordered: false,
        good: true,
    };
    let mut i = 0;
    while i < end {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        p.good = true;
        while i < end {
            match chars[i] {
                '#' => spec.sharp = true,
                '0' => spec.zero = !spec.minus,
                '+' => spec.plus = true,
                '-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                ' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut after_index;
        (i, after_index) = p.arg_number(&chars, i);
        if i < end && chars[i] == '*' {
            i += 1;
            match p.int_from_arg(args) {
                Some(n) if n < 0 => {
                    spec.width = usize::try_from(n.unsigned_abs()).ok();
                    spec.minus = true;
                    spec.zero = false;
                }
                Some(n) => spec.width = usize::try_from(n).ok(),
                None => out.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (n, ni) = parse_num(&chars, i);
            i = ni;
            spec.width = n;
            if after_index && n.is_some() {
                p.good = false;
            }
        }
        if i + 1 < end && chars[i] == '.' {
            i += 1;
            if after_index {
                p.good = false;
            }
            (i, after_index) = p.arg_number(&chars, i);
            if i < end && chars[i] == '*' {
                i += 1;
                spec.prec = p.int_from_arg(args).and_then(|n| usize::try_from(n).ok());
                if spec.prec.is_none() {
                    out.push_str("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (n, ni) = parse_num(&chars, i);
                i = ni;
                spec.prec = Some(n.unwrap_or(0));
            }
        }
        if !after_index {
            (i, _) = p.arg_number(&chars, i);
        }
        if i >= end {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = chars[i];
        i += 1;
        match verb {
            '%' => out.push('%'),
            _ if !p.good => out.push_str(&format!("%!{verb}(BADINDEX)")),
            _ if p.num >= args.len() => out.push_str(&format!("%!{verb}(MISSING)")),
            _ => {
                if verb == 'v' {
                    (spec.plus_v, spec.plus) = (spec.plus, false);
                    (spec.sharp_v, spec.sharp) = (spec.sharp, false);
                }
                let a = &args[p.num];
                // A pointer to a struct, given to printf itself, prints as &{...}.
                if let Val::Obj(_, _, k) = a
                    && verb != 'T'
                    && schema.struct_is_pointer(*k)
                    && a.struct_view(schema).is_some()
                {
                    out.push('&');
                }
                out.push_str(&format_arg(a, verb, &spec, schema));
                p.num += 1;
            }
        }
    }
    // Go does not look for unused arguments once an index reordered them.
    if !p.reordered && p.num < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[p.num..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if matches!(a, Val::Missing | Val::Nil(NilKind::Iface)) {
                out.push_str("<nil>");
                continue;
            }
            out.push_str(&a.type_name(schema));
            out.push('=');
            out.push_str(&format_arg(a, 'v', &Spec::default(), schema));
        }
        out.push(')');
    }
    out
}

/// Where `sprintf` is in its arguments.
struct Args {
    n: usize,
    num: usize,
    reordered: bool,
    good: bool,
}

impl Args {
    /// Go's `argNumber`: an explicit `[n]` at `i` moves to argument n; returns the position
    /// after it and whether there was one.
    fn arg_number(&mut self, chars: &[char], i: usize) -> (usize, bool) {
        if chars.get(i) != Some(&'[') {
            return (i, false);
        }
        self.reordered = true;
        let close = chars[i..].iter().position(|c| *c == ']');
        let parsed = match close {
            Some(c) if c >= 2 => {
                let (n, ni) = parse_num(chars, i + 1);
                match n {
                    Some(n) if ni == i + c => Some((n, i + c + 1)),
                    _ => None,
                }
            }
            _ => None,
        };
        match parsed {
            Some((n, ni)) if n >= 1 && n - 1 < self.n => {
                self.num = n - 1;
                (ni, true)
            }
            Some((_, ni)) => {
                self.good = false;
                (ni, true)
            }
            None => {
                self.good = false;
                (close.map_or(i + 1, |c| i + c + 1), false)
            }
        }
    }

    /// Go's `intFromArg`: the argument as a width or precision, None when it is not an
    /// integer or too large.
    fn int_from_arg(&mut self, args: &[Val<'_>]) -> Option<i64> {
        let a = args.get(self.num)?;
        self.num += 1;
        let n = match a {
            Val::Int(i) | Val::Duration(i) => Some(*i),
            Val::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        }?;
        (n.unsigned_abs() <= TOO_LARGE as u64).then_some(n)
    }
}

/// Go's `parsenum`: digits at `i`; a number above 1e6 gives up on the rest of the format.
fn parse_num(chars: &[char], mut i: usize) -> (Option<usize>, usize) {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
        if n.is_some_and(|n| n > TOO_LARGE) {
            return (None, chars.len());
        }
        n = Some(n.unwrap_or(0) * 10 + d as usize);
        i += 1;
    }
    (n, i)
}

/// Go's `badVerb`: the value printed with `%v` and the verb's flags, width and precision.
fn bad_verb(a: &Val<'_>, verb: char, spec: &Spec, schema: &Schema) -> String {
    match a {
        Val::Missing | Val::Nil(_) => format!("%!{verb}(<nil>)"),
        _ => format!(
            "%!{verb}({}={})",
            a.type_name(schema),
            format_arg(a, 'v', spec, schema)
        ),
    }
}

fn format_arg(a: &Val<'_>, verb: char, spec: &Spec, schema: &Schema) -> String {
    if verb == 'T' {
        let t = match a {
            Val::Missing | Val::Nil(NilKind::Iface) => "<nil>".to_owned(),
            _ => a.type_name(schema),
        };
        // A type's name is a string: the precision cuts it.
        return format_str(&t, 's', spec).unwrap_or(t);
    }
    match a {
        Val::Missing | Val::Nil(NilKind::Iface | NilKind::Ptr) if verb == 'v' => spec.pad("<nil>"),
        Val::Nil(k @ (NilKind::Slice | NilKind::Map)) => spec.pad(&Val::Nil(*k).print(schema)),
        Val::Bool(b) if matches!(verb, 'v' | 't') => spec.pad(if *b { "true" } else { "false" }),
        // A Stringer: %v and %s print its String(), other verbs its integer.
        Val::Duration(d) if matches!(verb, 'v' | 's') => {
            format_str(&super::value::go_duration(*d), verb, spec)
                .unwrap_or_else(|| bad_verb(a, verb, spec, schema))
        }
        Val::Int(i) | Val::Duration(i) => format_int(i.unsigned_abs(), *i < 0, verb, spec)
            .unwrap_or_else(|| bad_verb(a, verb, spec, schema)),
        Val::Uint(u) => {
            format_int(*u, false, verb, spec).unwrap_or_else(|| bad_verb(a, verb, spec, schema))
        }
        Val::Float(f) => {
            format_float(*f, verb, spec).unwrap_or_else(|| bad_verb(a, verb, spec, schema))
        }
        Val::Str(s) | Val::JsonNum(s) => {
            format_str(s, verb, spec).unwrap_or_else(|| bad_verb(a, verb, spec, schema))
        }
        Val::Arr(..) | Val::List(_) => {
            let items: Vec<String> = a
                .elements(schema)
                .unwrap_or_default()
                .iter()
                .map(|e| format_arg(e, verb, spec, schema))
                .collect();
            // Go pads each element, not the whole.
            format!("[{}]", items.join(" "))
        }
        Val::Obj(..) if let Some(fields) = a.struct_view(schema) => {
            // Go's structs: `{a b}`, `%+v` names the fields.
            let items: Vec<String> = fields
                .iter()
                .map(|(name, v)| {
                    let item = format_arg(v, verb, spec, schema);
                    if verb == 'v' && spec.plus_v {
                        format!("{name}:{item}")
                    } else {
                        item
                    }
                })
                .collect();
            format!("{{{}}}", items.join(" "))
        }
        // Go formats a map's keys and values with the verb, whatever it is.
        Val::Obj(m, _, k) => {
            let items: Vec<String> = super::value::sorted_keys(m)
                .into_iter()
                .map(|n| {
                    let v = Val::entry(m, *k, n, schema);
                    let key = format_arg(&Val::Str(Cow::Borrowed(n)), verb, spec, schema);
                    format!("{key}:{}", format_arg(&v, verb, spec, schema))
                })
                .collect();
            format!("map[{}]", items.join(" "))
        }
        _ => bad_verb(a, verb, spec, schema),
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
                .filter(|_| !neg)
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return Some(spec.pad(&c.to_string()));
        }
        'q' => {
            let c = u32::try_from(mag)
                .ok()
                .filter(|_| !neg)
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            let mut s = String::from("'");
            if spec.plus && !c.is_ascii() {
                // `%+q`: ASCII only.
                let n = u32::from(c);
                s.push_str(&if n < 0x10000 {
                    format!("\\u{n:04x}")
                } else {
                    format!("\\U{n:08x}")
                });
            } else {
                quote_char(&mut s, c, '\'');
            }
            s.push('\'');
            return Some(spec.pad(&s));
        }
        'U' => {
            // A negative number is its two's complement.
            let u64v = if neg { mag.wrapping_neg() } else { mag };
            let mut u = format!("U+{u64v:04X}");
            // `%#U` adds the character when it prints.
            if spec.sharp
                && let Some(c) = u32::try_from(mag).ok().and_then(char::from_u32)
                && is_print(c)
            {
                u.push_str(&format!(" '{c}'"));
            }
            // Go pads `%U` with spaces whatever the flags.
            return Some(spec.pad_spaces(&u));
        }
        _ => return None,
    };
    if spec.prec == Some(0) && mag == 0 {
        // Precision 0 and value 0: nothing but the padding.
        return Some(spec.pad_spaces(""));
    }
    let mut digits = match spec.prec {
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
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
        spec.pad_spaces(&s)
    } else {
        spec.pad_num(&s)
    })
}

fn format_str(s: &str, verb: char, spec: &Spec) -> Option<String> {
    let cut = |s: &str| -> String {
        match spec.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_owned(),
        }
    };
    Some(match verb {
        'v' if spec.sharp_v => spec.pad(&quote(s)),
        'v' | 's' => spec.pad(&cut(s)),
        'q' if spec.sharp && can_backquote(&cut(s)) => spec.pad(&format!("`{}`", cut(s))),
        'q' => spec.pad(&quote_with(&cut(s), spec.plus)),
        'x' | 'X' => {
            let bytes = match spec.prec {
                Some(p) => &s.as_bytes()[..p.min(s.len())],
                None => s.as_bytes(),
            };
            // `#` puts 0x before the digits (before each byte with the space flag).
            let prefix = if spec.sharp {
                format!("0{verb}")
            } else {
                String::new()
            };
            let sep = if spec.space {
                format!(" {prefix}")
            } else {
                String::new()
            };
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
            if hex.is_empty() {
                spec.pad("")
            } else {
                spec.pad(&format!("{prefix}{}", hex.join(&sep)))
            }
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
