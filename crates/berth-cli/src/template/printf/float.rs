//! Go's float verbs: %e %f %g (shortest or to a precision), %x (hex mantissa), %b, and
//! the `#` flag.

use super::Spec;

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

pub(super) fn format_float(f: f64, verb: char, spec: &Spec) -> Option<String> {
    if !f.is_finite() {
        let s = special(f);
        let s = if s == "+Inf" && !spec.plus {
            "Inf".to_owned()
        } else {
            s
        };
        return Some(spec.pad_spaces(&s));
    }
    let neg = f.is_sign_negative() && f != 0.0;
    let a = f.abs();
    let body = match verb {
        'v' | 'g' => format_g(a, spec.prec, 'e'),
        'G' => format_g(a, spec.prec, 'E'),
        'e' => format_e(a, spec.prec.unwrap_or(6), 'e'),
        'E' => format_e(a, spec.prec.unwrap_or(6), 'E'),
        'f' | 'F' => format_fixed(a, spec.prec.unwrap_or(6)),
        'x' | 'X' => format_hex_float(a, spec.prec, verb),
        'b' => format_binary_float(a),
        _ => return None,
    };
    let body = if spec.sharp && verb != 'b' {
        sharp_float(body, verb, spec.prec)
    } else {
        body
    };
    Some(spec.pad_num(&spec.sign(neg, body)))
}

/// The bits of a finite, non-negative f64 as Go's strconv reads them: the mantissa with
/// its implicit bit, and the exponent of its last bit.
fn float_parts(f: f64) -> (u64, i32) {
    let bits = f.to_bits();
    let exp = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let mant = bits & ((1 << 52) - 1);
    match exp {
        0 => (mant, 1 - 1023),
        e => (mant | (1 << 52), e - 1023),
    }
}

/// Go's `%x`/`%X` of a float: `0x1.8p+01`, shortest unless a precision is given.
fn format_hex_float(f: f64, prec: Option<usize>, verb: char) -> String {
    let (mut mant, mut exp) = float_parts(f);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec.filter(|p| *p < 15) {
        let shift = u32::try_from(p * 4).unwrap_or(0);
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let digits: &[u8] = if verb == 'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = format!("0{verb}{}", (mant >> 60) & 1);
    mant <<= 4;
    let count = match prec {
        None if mant != 0 => None,
        None => Some(0),
        Some(p) => Some(p),
    };
    if count != Some(0) {
        out.push('.');
        let mut i = 0;
        while count.map_or(mant != 0, |n| i < n) {
            out.push(char::from(
                digits[usize::try_from((mant >> 60) & 15).unwrap_or(0)],
            ));
            mant <<= 4;
            i += 1;
        }
    }
    out.push(if verb == 'X' { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.unsigned_abs()));
    out
}

/// Go's `%b` of a float: the mantissa and the power of two, `4503599627370496p-52`.
fn format_binary_float(f: f64) -> String {
    let (mant, exp) = float_parts(f);
    let exp = exp - 52;
    let sign = if exp >= 0 { "+" } else { "" };
    format!("{mant}p{sign}{exp}")
}

/// Go's `#` flag on floats: always a decimal point, and `%g` keeps its trailing zeros (to
/// the precision, 6 by default).
fn sharp_float(num: String, verb: char, prec: Option<usize>) -> String {
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => prec.map_or(6, |p| i64::try_from(p).unwrap_or(i64::MAX)),
        _ => 0,
    };
    let hex = matches!(verb, 'x' | 'X');
    let exp_at: &[char] = if hex { &['p', 'P'] } else { &['e', 'E'] };
    let (mut body, tail) = match num.find(exp_at) {
        Some(i) => (num[..i].to_owned(), num[i..].to_owned()),
        None => (num, String::new()),
    };
    let mut seen_nonzero = false;
    // Go counts every character of a hex float's body ("0x1.2") as a digit.
    for c in body
        .chars()
        .filter(|c| *c != '.' && (hex || c.is_ascii_digit()))
    {
        seen_nonzero |= c != '0';
        if seen_nonzero {
            digits -= 1;
        }
    }
    if !body.contains('.') {
        if body == "0" {
            digits -= 1;
        }
        body.push('.');
    }
    if digits > 0 {
        body.push_str(&"0".repeat(usize::try_from(digits).unwrap_or(0).min(EXACT_DIGITS)));
    }
    body + &tail
}
