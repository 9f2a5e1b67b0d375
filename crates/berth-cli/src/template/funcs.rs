//! The functions a template can call: Go's builtins (and, or, not, len, index, slice, print,
//! printf, println, html, js, urlquery, eq, ne, lt, le, gt, ge, call) and docker's (json,
//! split, join, title, lower, upper, pad, truncate), with Go's argument checks and errors.

use std::borrow::Cow;
use std::rc::Rc;

use super::printf::sprintf;
use super::value::{Key, NilKind, ObjKind, Schema, Val};

/// The Go type of a parameter, which decides how an argument is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `reflect.Value`: anything, a missing value included.
    Value,
    /// `interface{}`: anything; a missing value becomes a nil interface.
    Any,
    Str,
    Int,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::Value => "reflect.Value",
            Ty::Any => "interface {}",
            Ty::Str => "string",
            Ty::Int => "int",
        }
    }
}

pub type Builtin = for<'a> fn(Vec<Val<'a>>, &Schema) -> Result<Val<'a>, String>;

/// A function: its fixed parameters, the type of its variadic tail, its body.
#[derive(Clone, Copy)]
pub struct Func {
    pub name: &'static str,
    pub params: &'static [Ty],
    pub variadic: Option<Ty>,
    pub call: Builtin,
}

const fn f(name: &'static str, params: &'static [Ty], variadic: Option<Ty>, call: Builtin) -> Func {
    Func {
        name,
        params,
        variadic,
        call,
    }
}

use Ty::{Any, Int, Str, Value as V};

/// Go's builtins and docker's functions, as `docker ... --format` has them.
pub static FUNCS: &[Func] = &[
    // and/or are evaluated lazily by the executor; these bodies are never called.
    f("and", &[V], Some(V), |a, _| {
        Ok(a.into_iter().last().unwrap_or(Val::Missing))
    }),
    f("or", &[V], Some(V), |a, _| {
        Ok(a.into_iter().last().unwrap_or(Val::Missing))
    }),
    f("not", &[V], None, |a, _| Ok(Val::Bool(!a[0].truth()))),
    f("len", &[V], None, len),
    f("index", &[V], Some(V), index),
    f("slice", &[V], Some(V), slice),
    f("print", &[], Some(Any), |a, s| {
        Ok(owned(sprint(&a, s, false)))
    }),
    f("println", &[], Some(Any), |a, s| {
        Ok(owned(sprint(&a, s, true)))
    }),
    f("printf", &[Str], Some(Any), |a, s| {
        let fmt = a[0].as_str().unwrap_or_default().to_owned();
        Ok(owned(sprintf(&fmt, &a[1..], s)))
    }),
    f("html", &[], Some(Any), |a, s| {
        Ok(owned(html(&eval_args(&a, s))))
    }),
    f("js", &[], Some(Any), |a, s| {
        Ok(owned(js(&eval_args(&a, s))))
    }),
    f("urlquery", &[], Some(Any), |a, s| {
        Ok(owned(urlquery(&eval_args(&a, s))))
    }),
    f("eq", &[V], Some(V), |a, s| {
        eq_in(&a[0], &a[1..], s).map(Val::Bool)
    }),
    f("ne", &[V, V], None, |a, s| {
        eq_in(&a[0], &a[1..], s).map(|t| Val::Bool(!t))
    }),
    f("lt", &[V, V], None, |a, _| lt(&a[0], &a[1]).map(Val::Bool)),
    f("le", &[V, V], None, |a, _| le(&a[0], &a[1]).map(Val::Bool)),
    f("gt", &[V, V], None, |a, _| {
        le(&a[0], &a[1]).map(|t| Val::Bool(!t))
    }),
    f("ge", &[V, V], None, |a, _| {
        lt(&a[0], &a[1]).map(|t| Val::Bool(!t))
    }),
    f("call", &[V], Some(V), |a, s| match &a[0] {
        Val::Missing => Err("call of nil".into()),
        other => Err(format!("non-function of type {}", other.type_name(s))),
    }),
    // docker/cli's templates package.
    f("json", &[Any], None, |a, s| Ok(owned(a[0].to_json(s)))),
    f("split", &[Str, Str], None, split),
    f("join", &[Any, Str], None, join),
    f("title", &[Str], None, |a, _| {
        Ok(owned(title(str_of(&a[0]))))
    }),
    f("lower", &[Str], None, |a, _| {
        Ok(owned(str_of(&a[0]).chars().map(lower_char).collect()))
    }),
    f("upper", &[Str], None, |a, _| {
        Ok(owned(str_of(&a[0]).chars().map(upper_char).collect()))
    }),
    f("pad", &[Str, Int, Int], None, pad),
    f("truncate", &[Str, Int], None, truncate),
];

/// docker's header functions: the table header keeps the column names as they are.
pub static HEADER_FUNCS: &[Func] = &[
    f("json", &[Str], None, first),
    f("split", &[Str, Str], None, first),
    f("join", &[Str, Str], None, first),
    f("title", &[Str], None, first),
    f("lower", &[Str], None, first),
    f("upper", &[Str], None, first),
    f("truncate", &[Str, Int], None, first),
];

fn first<'a>(a: Vec<Val<'a>>, _: &Schema) -> Result<Val<'a>, String> {
    Ok(a.into_iter().next().unwrap_or(Val::Missing))
}

/// The function `name`, from `over` first (the header functions), then the builtins.
pub fn find(name: &str, over: &[Func]) -> Option<Func> {
    over.iter()
        .chain(FUNCS.iter())
        .find(|f| f.name == name)
        .copied()
}

pub fn is_func(name: &str) -> bool {
    FUNCS.iter().any(|f| f.name == name)
}

fn owned<'a>(s: String) -> Val<'a> {
    Val::Str(Cow::Owned(s))
}

fn str_of<'b>(v: &'b Val<'_>) -> &'b str {
    v.as_str().unwrap_or_default()
}

fn int_of(v: &Val<'_>) -> i64 {
    match v {
        Val::Int(i) | Val::Duration(i) => *i,
        Val::Uint(u) => i64::try_from(*u).unwrap_or(i64::MAX),
        _ => 0,
    }
}

/// Go's `fmt.Sprint` (spaces between operands when neither is a string) or `Sprintln`.
fn sprint(args: &[Val<'_>], s: &Schema, ln: bool) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Val<'_>| matches!(v, Val::Str(_) | Val::JsonNum(_));
        if i > 0 && (ln || !(is_str(a) || is_str(&args[i - 1]))) {
            out.push(' ');
        }
        out.push_str(&match a {
            Val::Missing => "<nil>".to_owned(),
            other => other.print(s),
        });
    }
    if ln {
        out.push('\n');
    }
    out
}

/// The text of html/js/urlquery's arguments: a single string as it is, else `Sprint`.
fn eval_args(args: &[Val<'_>], s: &Schema) -> String {
    match args {
        [Val::Str(one)] => one.to_string(),
        _ => sprint(args, s, false),
    }
}

pub(super) fn html(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{fffd}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn js(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if u32::from(c) < 0x20 || !super::printf::is_print(c) => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

pub(super) fn urlquery(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn len<'a>(a: Vec<Val<'a>>, s: &Schema) -> Result<Val<'a>, String> {
    let n = match &a[0] {
        Val::Missing => return Err("len of untyped nil".into()),
        Val::Nil(NilKind::Ptr | NilKind::Iface) => return Err("len of nil pointer".into()),
        Val::Nil(_) => 0,
        Val::Str(x) | Val::JsonNum(x) => x.len(),
        Val::Arr(x, _) => x.len(),
        Val::List(x) => x.len(),
        Val::Obj(m, ObjKind::Map, _) => m.len(),
        other => return Err(format!("len of type {}", other.type_name(s))),
    };
    Ok(Val::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// An index argument: an integer in 0..=cap.
fn index_arg(v: &Val<'_>, cap: usize, s: &Schema) -> Result<usize, String> {
    let x: i128 = match v {
        Val::Int(i) | Val::Duration(i) => i128::from(*i),
        Val::Uint(u) => i128::from(*u),
        Val::Missing => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name(s)
            ));
        }
    };
    match usize::try_from(x) {
        Ok(i) if i <= cap => Ok(i),
        _ => Err(format!("index out of range: {x}")),
    }
}

fn index<'a>(a: Vec<Val<'a>>, s: &Schema) -> Result<Val<'a>, String> {
    let mut it = a.into_iter();
    let mut v = it.next().unwrap_or(Val::Missing);
    if matches!(v, Val::Missing) {
        return Err("index of untyped nil".into());
    }
    for i in it {
        v = match v {
            Val::Nil(NilKind::Ptr | NilKind::Iface) => return Err("index of nil pointer".into()),
            Val::Arr(..) | Val::List(_) | Val::Nil(NilKind::Slice) => {
                let elems = v.elements(s).unwrap_or_default();
                let x = index_arg(&i, elems.len(), s)?;
                elems
                    .get(x)
                    .cloned()
                    .ok_or_else(|| format!("index out of range: {x}"))?
            }
            Val::Str(ref text) => {
                let x = index_arg(&i, text.len(), s)?;
                Val::Uint(u64::from(
                    *text
                        .as_bytes()
                        .get(x)
                        .ok_or_else(|| format!("index out of range: {x}"))?,
                ))
            }
            Val::Obj(m, ObjKind::Map, k) => {
                let key = match &i {
                    Val::Str(k) => k.to_string(),
                    Val::Missing => String::new(),
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name(s)
                        ));
                    }
                };
                match m.get_key_value(key.as_str()) {
                    Some((name, _)) => Val::entry(m, k, name, s),
                    None => zero_of_map(m, k, s),
                }
            }
            Val::Nil(NilKind::Map) => Val::Str(Cow::Borrowed("")),
            other => return Err(format!("can't index item of type {}", other.type_name(s))),
        };
    }
    Ok(v)
}

/// The zero value of a map's element type, guessed from an entry (most of docker's maps
/// are `map[string]string`).
fn zero_of_map<'a>(
    m: &'a serde_json::Map<String, serde_json::Value>,
    k: Key<'a>,
    s: &Schema,
) -> Val<'a> {
    if s.raw {
        return Val::Nil(NilKind::Iface);
    }
    match m.keys().next().map(|n| Val::entry(m, k, n, s)) {
        Some(Val::Obj(..) | Val::Nil(NilKind::Ptr)) => Val::Nil(NilKind::Ptr),
        Some(Val::Arr(..) | Val::Nil(NilKind::Slice)) => Val::Nil(NilKind::Slice),
        Some(Val::Int(_)) => Val::Int(0),
        Some(Val::Bool(_)) => Val::Bool(false),
        _ => Val::Str(Cow::Borrowed("")),
    }
}

fn slice<'a>(a: Vec<Val<'a>>, s: &Schema) -> Result<Val<'a>, String> {
    let (item, idx) = a.split_first().ok_or("slice of untyped nil")?;
    if matches!(item, Val::Missing) {
        return Err("slice of untyped nil".into());
    }
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let len = match item {
        Val::Str(t) => {
            if idx.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            t.len()
        }
        Val::Arr(x, _) => x.len(),
        Val::List(x) => x.len(),
        Val::Nil(NilKind::Slice) => 0,
        other => return Err(format!("can't slice item of type {}", other.type_name(s))),
    };
    let mut bounds = [0, len, len];
    for (n, i) in idx.iter().enumerate() {
        bounds[n] = index_arg(i, len, s)?;
    }
    if bounds[0] > bounds[1] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    if idx.len() == 3 && bounds[1] > bounds[2] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[1], bounds[2]
        ));
    }
    let (lo, hi) = (bounds[0], bounds[1]);
    Ok(match item {
        Val::Str(t) => Val::Str(Cow::Owned(
            String::from_utf8_lossy(&t.as_bytes()[lo..hi]).into_owned(),
        )),
        Val::Arr(x, k) => Val::Arr(&x[lo..hi], *k),
        Val::List(x) => Val::List(Rc::new(x[lo..hi].to_vec())),
        other => other.clone(),
    })
}

/// Go's basic kinds for comparisons.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
}

fn basic_kind(v: &Val<'_>) -> BasicKind {
    match v {
        Val::Bool(_) => BasicKind::Bool,
        Val::Int(_) | Val::Duration(_) => BasicKind::Int,
        Val::Uint(_) => BasicKind::Uint,
        Val::Float(_) => BasicKind::Float,
        Val::Str(_) | Val::JsonNum(_) => BasicKind::Str,
        _ => BasicKind::Invalid,
    }
}

fn text<'b>(v: &'b Val<'_>) -> &'b str {
    match v {
        Val::Str(s) | Val::JsonNum(s) => s,
        _ => "",
    }
}

pub(super) const INCOMPATIBLE: &str = "incompatible types for comparison";
pub(super) const BAD_TYPE: &str = "invalid type for comparison";

fn is_nil(v: &Val<'_>) -> bool {
    matches!(v, Val::Missing | Val::Nil(_))
}

/// Go's `eq arg1 arg2...`: whether arg1 equals any of the others.
pub fn eq(a: &Val<'_>, rest: &[Val<'_>]) -> Result<bool, String> {
    eq_in(a, rest, &Schema::PLAIN)
}

/// [`eq`], with the schema that names the types of values that cannot be compared.
pub fn eq_in(a: &Val<'_>, rest: &[Val<'_>], schema: &Schema) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let a = &a.plain();
    let k1 = basic_kind(a);
    for b in rest {
        let b = &b.plain();
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            match (a, b) {
                (Val::Int(x), Val::Uint(y)) | (Val::Uint(y), Val::Int(x)) => {
                    u64::try_from(*x).is_ok_and(|x| x == *y)
                }
                _ if !matches!(a, Val::Missing) && !matches!(b, Val::Missing) => {
                    return Err(INCOMPATIBLE.into());
                }
                _ => false,
            }
        } else {
            match (a, b) {
                (Val::Bool(x), Val::Bool(y)) => x == y,
                (Val::Int(x), Val::Int(y)) => x == y,
                (Val::Uint(x), Val::Uint(y)) => x == y,
                (Val::Float(x), Val::Float(y)) => x == y,
                _ if k1 == BasicKind::Str => text(a) == text(b),
                _ if is_nil(a) || is_nil(b) => is_nil(a) == is_nil(b),
                _ => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        b.print(schema),
                        b.type_name(schema)
                    ));
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`.
pub fn lt(a: &Val<'_>, b: &Val<'_>) -> Result<bool, String> {
    let (a, b) = (&a.plain(), &b.plain());
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == BasicKind::Invalid || k2 == BasicKind::Invalid {
        return Err(BAD_TYPE.into());
    }
    if k1 != k2 {
        return match (a, b) {
            (Val::Int(x), Val::Uint(y)) => Ok(u64::try_from(*x).map_or(true, |x| x < *y)),
            (Val::Uint(x), Val::Int(y)) => Ok(u64::try_from(*y).is_ok_and(|y| *x < y)),
            _ => Err(INCOMPATIBLE.into()),
        };
    }
    Ok(match (a, b) {
        (Val::Bool(_), Val::Bool(_)) => return Err(BAD_TYPE.into()),
        (Val::Int(x), Val::Int(y)) => x < y,
        (Val::Uint(x), Val::Uint(y)) => x < y,
        (Val::Float(x), Val::Float(y)) => x < y,
        _ => text(a) < text(b),
    })
}

pub(super) fn le(a: &Val<'_>, b: &Val<'_>) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

pub(super) fn split<'a>(a: Vec<Val<'a>>, _: &Schema) -> Result<Val<'a>, String> {
    let (s, sep) = (str_of(&a[0]), str_of(&a[1]));
    let parts: Vec<Val<'a>> = if sep.is_empty() {
        s.chars().map(|c| owned(c.to_string())).collect()
    } else {
        s.split(sep).map(|p| owned(p.to_owned())).collect()
    };
    Ok(Val::List(Rc::new(parts)))
}

pub(super) fn join<'a>(a: Vec<Val<'a>>, s: &Schema) -> Result<Val<'a>, String> {
    let sep = str_of(&a[1]).to_owned();
    let items: Vec<String> = match &a[0] {
        Val::Missing | Val::Nil(NilKind::Iface) => return Ok(owned(String::new())),
        v @ (Val::Arr(..) | Val::List(_) | Val::Nil(NilKind::Slice)) => v
            .elements(s)
            .unwrap_or_default()
            .iter()
            .map(|e| match e {
                Val::Missing => "<nil>".to_owned(),
                e => e.print(s),
            })
            .collect(),
        Val::Obj(m, ObjKind::Map, k) => {
            let mut v: Vec<String> = m.keys().map(|n| Val::entry(m, *k, n, s).print(s)).collect();
            v.sort();
            v
        }
        other => return Err(format!("expected slice, got {}", other.type_name(s))),
    };
    Ok(owned(items.join(&sep)))
}

/// Go's `unicode.ToUpper`: one character for one (`ß` stays, where Rust writes `SS`).
pub(super) fn upper_char(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower`: one character for one (`İ` is `i`).
pub(super) fn lower_char(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Go's `strings.Title`: each word's first letter in upper case.
pub(super) fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.push(upper_char(c));
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

pub(super) fn pad<'a>(a: Vec<Val<'a>>, _: &Schema) -> Result<Val<'a>, String> {
    let s = str_of(&a[0]);
    if s.is_empty() {
        return Ok(owned(String::new()));
    }
    let count = |v: &Val<'_>| {
        usize::try_from(int_of(v)).map_err(|_| "strings: negative Repeat count".to_owned())
    };
    let (pre, post) = (count(&a[1])?, count(&a[2])?);
    if pre.saturating_add(post) > 1 << 20 {
        return Err("strings: Repeat output length overflow".into());
    }
    Ok(owned(format!("{}{s}{}", " ".repeat(pre), " ".repeat(post))))
}

pub(super) fn truncate<'a>(a: Vec<Val<'a>>, _: &Schema) -> Result<Val<'a>, String> {
    let s = str_of(&a[0]);
    let n = int_of(&a[1]);
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    if len < n {
        return Ok(owned(s.to_owned()));
    }
    let n = usize::try_from(n)
        .map_err(|_| format!("runtime error: slice bounds out of range [:{n}]"))?;
    Ok(owned(
        String::from_utf8_lossy(&s.as_bytes()[..n]).into_owned(),
    ))
}
