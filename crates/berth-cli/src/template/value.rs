//! Values as a Go template sees them. Berth's data is JSON; Docker's is Go values whose
//! types decide how they print (`[]` for a nil slice, `<nil>` for a nil pointer), whether
//! a missing field is an error (a struct) or `<no value>` (a map), and how numbers compare.
//! A [`Schema`] tells, per command, what Docker's Go types would say.

use std::borrow::Cow;
use std::rc::Rc;

use serde_json::{Map, Value};

/// What kind of Go nil a JSON `null` stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NilKind {
    /// A nil pointer: prints `<nil>`.
    Ptr,
    /// A nil slice: prints `[]`.
    Slice,
    /// A nil map: prints `map[]`.
    Map,
    /// A nil `interface{}` (docker's raw inspect maps): `<no value>` once a pipeline ends.
    Iface,
}

/// Whether a JSON object is a Go struct (unknown fields are errors; always true) or a map
/// (missing keys read as `<no value>`; true when not empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjKind {
    Struct,
    Map,
}

/// Where a value was found: the key of its parent and its own key (`*` for the entries of
/// a map, `[]` for the elements of an array), which the schema's hints match.
#[derive(Clone, Copy, Debug, Default)]
pub struct Key<'a> {
    pub parent: Option<&'a str>,
    pub key: Option<&'a str>,
}

/// A value during execution.
#[derive(Clone, Debug)]
pub enum Val<'a> {
    /// Go's invalid `reflect.Value` (a map's missing key): prints `<no value>`.
    Missing,
    Nil(NilKind),
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(Cow<'a, str>),
    /// A `json.Number` (docker's raw inspect data): a string that encodes as a number.
    JsonNum(Cow<'a, str>),
    Arr(&'a [Value], Key<'a>),
    Obj(&'a Map<String, Value>, ObjKind, Key<'a>),
    /// A list made during execution (`split`, `slice` of a list).
    List(Rc<Vec<Val<'a>>>),
    /// A `time.Duration` (nanoseconds): an integer that prints as Go's `String()` ("3s")
    /// and encodes as a JSON number.
    Duration(i64),
}

/// The zero value Docker's template sees for a struct field that Docker's JSON omits.
#[derive(Clone, Copy, Debug)]
pub enum Zero {
    Nil(NilKind),
    Str,
    Bool,
    Int,
}

/// A method of the data's Go type: `.Label "com.example.x"` on `ps` rows.
pub type Method = for<'a> fn(&'a Map<String, Value>, &[Val<'a>]) -> Result<Val<'a>, String>;

/// What Docker's Go types say about a command's data.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    /// The Go type of the data, for errors ("*formatter.ContainerContext").
    pub type_name: &'static str,
    /// Object keys that are Go maps (`Labels`, or `LogConfig.Config` for a parent's key).
    pub maps: &'static [&'static str],
    /// Keys whose null is a nil slice (`[]`); a null under a `maps` key is `map[]`; any
    /// other null is a nil pointer (`<nil>`).
    pub slices: &'static [&'static str],
    /// Struct fields that Docker's JSON leaves out when empty, and their zero values.
    pub omitted: &'static [(&'static str, Zero)],
    /// Go type names of nested structs, for errors.
    pub types: &'static [(&'static str, &'static str)],
    /// Methods of the top-level type.
    pub methods: &'static [(&'static str, Method)],
    /// Docker's raw inspect fallback: the data is `map[string]interface{}` decoded with
    /// `UseNumber`, and a missing key is an error.
    pub raw: bool,
    /// The data is a Go map (docker's table headers), not a struct.
    pub root_map: bool,
    /// The data marshals itself with `json.Marshal` (docker's list rows): `{{json .}}`
    /// escapes `<`, `>` and `&` as Go's encoder does by default.
    pub html_json: bool,
    /// Struct fields whose Go name is not their JSON key, as (JSON key, Go name): the Go
    /// name reaches the field, the JSON key does not (docker then falls back to the raw
    /// data, where numbers are `json.Number`s).
    pub renamed: &'static [(&'static str, &'static str)],
    /// Structs that print as Go prints them (`{bind  /src /dst  ro false rprivate}`): their
    /// fields in Go's order, with the zero value of each.
    pub structs: &'static [(&'static str, &'static [(&'static str, Zero)])],
    /// The top-level fields are Go methods without arguments (docker's list rows): given
    /// arguments, they fail as Go's calls do ("wrong number of args").
    pub methods_only: bool,
    /// Keys whose numbers are Go `time.Duration`s (`Healthcheck.Interval`).
    pub durations: &'static [&'static str],
}

impl Schema {
    /// Data that is plain JSON maps (Go's `map[string]interface{}` without `UseNumber`).
    pub const PLAIN: Schema = Schema {
        type_name: "map[string]interface {}",
        maps: &[],
        slices: &[],
        omitted: &[],
        types: &[],
        methods: &[],
        raw: false,
        root_map: false,
        html_json: false,
        renamed: &[],
        structs: &[],
        methods_only: false,
        durations: &[],
    };

    /// Docker inspect's fallback over the raw JSON.
    pub const RAW: Schema = Schema {
        raw: true,
        ..Schema::PLAIN
    };

    fn matches(list: &[&str], k: Key<'_>) -> bool {
        list.iter().any(|p| key_matches(p, k))
    }

    pub fn is_map(&self, k: Key<'_>) -> bool {
        self.raw || Self::matches(self.maps, k)
    }

    pub fn omitted(&self, k: Key<'_>) -> Option<Zero> {
        self.omitted
            .iter()
            .find(|(p, _)| key_matches(p, k))
            .map(|(_, z)| *z)
    }

    pub fn type_of(&self, k: Key<'_>) -> Option<&'static str> {
        if k.key.is_none() {
            return Some(self.type_name);
        }
        self.types
            .iter()
            .find(|(p, _)| key_matches(p, k))
            .map(|(_, t)| *t)
    }

    /// The JSON key of struct field `name` under `parent`, when Go names it otherwise; or
    /// `Err` when `name` is a JSON key that Go names otherwise.
    pub fn renamed(&self, name: &str) -> Result<Option<&'static str>, ()> {
        for (json, go) in self.renamed {
            if *go == name {
                return Ok(Some(json));
            }
            if *json == name {
                return Err(());
            }
        }
        Ok(None)
    }

    /// The fields of the struct at `k`, when it prints as a Go struct.
    pub fn struct_fields(&self, k: Key<'_>) -> Option<&'static [(&'static str, Zero)]> {
        self.structs
            .iter()
            .find(|(p, _)| key_matches(p.trim_start_matches('&'), k))
            .map(|(_, f)| *f)
    }

    /// Whether the struct at `k` is a pointer in Go (its pattern starts with `&`): printf
    /// writes `&{...}` for it.
    pub fn struct_is_pointer(&self, k: Key<'_>) -> bool {
        self.structs
            .iter()
            .any(|(p, _)| p.starts_with('&') && key_matches(&p[1..], k))
    }

    pub fn method(&self, name: &str) -> Option<Method> {
        self.methods
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }

    /// The value of `v` found at `k`.
    pub fn val<'a>(&self, v: &'a Value, k: Key<'a>) -> Val<'a> {
        match v {
            Value::Null if self.raw => Val::Nil(NilKind::Iface),
            Value::Null if Self::matches(self.slices, k) => Val::Nil(NilKind::Slice),
            Value::Null if Self::matches(self.maps, k) => Val::Nil(NilKind::Map),
            Value::Null => Val::Nil(NilKind::Ptr),
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) if self.raw => Val::JsonNum(Cow::Owned(n.to_string())),
            Value::Number(n) if Self::matches(self.durations, k) && n.as_i64().is_some() => {
                Val::Duration(n.as_i64().unwrap_or_default())
            }
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Val::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Val::Uint(u)
                } else {
                    Val::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Array(a) => Val::Arr(a, k),
            Value::Object(m) => {
                let kind = if k.key.is_some() && self.is_map(k) || self.raw {
                    ObjKind::Map
                } else {
                    ObjKind::Struct
                };
                Val::Obj(m, kind, k)
            }
        }
    }
}

/// `pattern` is `key` or `parent.key`.
fn key_matches(pattern: &str, k: Key<'_>) -> bool {
    match pattern.split_once('.') {
        Some((p, key)) => k.parent == Some(p) && k.key == Some(key),
        None => k.key == Some(pattern),
    }
}

impl<'a> Val<'a> {
    /// The elements of an array or list, with the schema's view of each.
    pub fn elements(&self, schema: &Schema) -> Option<Vec<Val<'a>>> {
        match self {
            Val::Arr(a, k) => {
                let ek = Key {
                    parent: k.key,
                    key: Some("[]"),
                };
                Some(a.iter().map(|v| schema.val(v, ek)).collect())
            }
            Val::List(l) => Some(l.as_ref().clone()),
            _ => None,
        }
    }

    /// A map's entry, with the schema's view of it.
    pub fn entry(m: &'a Map<String, Value>, k: Key<'a>, name: &'a str, schema: &Schema) -> Val<'a> {
        let ek = if schema.is_map(k) && k.key.is_some() {
            Key {
                parent: k.key,
                key: Some("*"),
            }
        } else {
            Key {
                parent: k.key,
                key: Some(name),
            }
        };
        match m.get(name) {
            Some(v) => schema.val(v, ek),
            None => Val::Missing,
        }
    }

    /// Go's truth: false, 0, nil, and empty strings, slices and maps are false.
    pub fn truth(&self) -> bool {
        match self {
            Val::Missing | Val::Nil(_) => false,
            Val::Bool(b) => *b,
            Val::Int(i) | Val::Duration(i) => *i != 0,
            Val::Uint(u) => *u != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) | Val::JsonNum(s) => !s.is_empty(),
            Val::Arr(a, _) => !a.is_empty(),
            Val::Obj(_, ObjKind::Struct, _) => true,
            Val::Obj(m, ObjKind::Map, _) => !m.is_empty(),
            Val::List(l) => !l.is_empty(),
        }
    }

    /// The Go type's name, for `%T` and errors (a guess for nested data).
    pub fn type_name(&self, schema: &Schema) -> String {
        match self {
            Val::Missing => "<nil>".into(),
            Val::Nil(NilKind::Ptr) => "*struct".into(),
            Val::Nil(NilKind::Slice) => "[]string".into(),
            Val::Nil(NilKind::Map) => "map[string]string".into(),
            Val::Nil(NilKind::Iface) => "interface {}".into(),
            Val::Bool(_) => "bool".into(),
            Val::Int(_) => "int".into(),
            Val::Duration(_) => "time.Duration".into(),
            Val::Uint(_) => "uint64".into(),
            Val::Float(_) => "float64".into(),
            Val::Str(_) => "string".into(),
            Val::JsonNum(_) => "json.Number".into(),
            Val::Arr(..) | Val::List(_) if schema.raw => "[]interface {}".into(),
            Val::Arr(_, k) if matches!(k.key, Some("Cmd" | "Entrypoint" | "Shell")) => {
                "strslice.StrSlice".into()
            }
            Val::Arr(..) | Val::List(_) => "[]string".into(),
            Val::Obj(_, _, _) if schema.raw => "map[string]interface {}".into(),
            Val::Obj(_, ObjKind::Map, _) => "map[string]string".into(),
            Val::Obj(_, ObjKind::Struct, k) => schema
                .type_of(*k)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("struct {{{}}}", k.key.unwrap_or(""))),
        }
    }

    /// Go's `fmt.Sprint` of the value (what `{{.X}}` writes; a missing value writes
    /// `<no value>`).
    pub fn print(&self, schema: &Schema) -> String {
        let mut s = String::new();
        self.write(&mut s, schema, true);
        s
    }

    fn write(&self, out: &mut String, schema: &Schema, top: bool) {
        match self {
            Val::Missing if top => out.push_str("<no value>"),
            Val::Missing | Val::Nil(NilKind::Ptr | NilKind::Iface) => out.push_str("<nil>"),
            Val::Nil(NilKind::Slice) => out.push_str("[]"),
            Val::Nil(NilKind::Map) => out.push_str("map[]"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) => out.push_str(&i.to_string()),
            Val::Duration(d) => out.push_str(&go_duration(*d)),
            Val::Uint(u) => out.push_str(&u.to_string()),
            Val::Float(f) => out.push_str(&super::printf::format_g(*f, None, 'e')),
            Val::Str(s) | Val::JsonNum(s) => out.push_str(s),
            Val::Arr(..) | Val::List(_) => {
                out.push('[');
                for (i, e) in self.elements(schema).unwrap_or_default().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    e.write(out, schema, false);
                }
                out.push(']');
            }
            Val::Obj(..) if let Some(fields) = self.struct_view(schema) => {
                out.push('{');
                for (i, (_, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write(out, schema, false);
                }
                out.push('}');
            }
            Val::Obj(m, _, k) => {
                out.push_str("map[");
                for (i, name) in sorted_keys(m).into_iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(name);
                    out.push(':');
                    Val::entry(m, *k, name, schema).write(out, schema, false);
                }
                out.push(']');
            }
        }
    }

    /// The fields of a struct that prints as Go prints structs (see `Schema::structs`), in
    /// Go's order; a field Berth's JSON lacks has its zero value. None for other values, and
    /// for objects with keys the struct does not have.
    pub fn struct_view(&self, schema: &Schema) -> Option<Vec<(&'static str, Val<'a>)>> {
        let Val::Obj(m, ObjKind::Struct, k) = self else {
            return None;
        };
        let fields = schema.struct_fields(*k)?;
        if !m.keys().all(|n| fields.iter().any(|(name, _)| name == n)) {
            return None;
        }
        let view = fields
            .iter()
            .map(|(name, zero)| {
                let v = match m.get_key_value(*name) {
                    Some((key, _)) => Val::entry(m, *k, key, schema),
                    None => match zero {
                        Zero::Str => Val::Str(Cow::Borrowed("")),
                        Zero::Bool => Val::Bool(false),
                        Zero::Int => Val::Int(0),
                        Zero::Nil(n) => Val::Nil(*n),
                    },
                };
                (*name, v)
            })
            .collect();
        Some(view)
    }

    /// The value with a `time.Duration` as the integer it is (comparisons see its kind).
    pub fn plain(&self) -> Val<'a> {
        match self {
            Val::Duration(d) => Val::Int(*d),
            v => v.clone(),
        }
    }

    /// The string inside, for functions that take a Go string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Go's `encoding/json` of the value, without HTML escaping (docker's `json` function).
    pub fn to_json(&self, schema: &Schema) -> String {
        let mut s = String::new();
        self.write_json(&mut s, schema);
        match self {
            Val::Obj(_, _, k) if k.key.is_none() && schema.html_json => escape_html_json(&s),
            _ => s,
        }
    }

    fn write_json(&self, out: &mut String, schema: &Schema) {
        match self {
            Val::Missing | Val::Nil(_) => out.push_str("null"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) | Val::Duration(i) => out.push_str(&i.to_string()),
            Val::Uint(u) => out.push_str(&u.to_string()),
            Val::Float(f) => out.push_str(&json_float(*f)),
            Val::JsonNum(s) => out.push_str(s),
            Val::Str(s) => json_string(out, s),
            Val::Arr(..) | Val::List(_) => {
                out.push('[');
                for (i, e) in self.elements(schema).unwrap_or_default().iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    e.write_json(out, schema);
                }
                out.push(']');
            }
            Val::Obj(m, _, k) => {
                out.push('{');
                // Known structs in Go's field order (the keys Berth's JSON has).
                let go_order: Vec<&str> = match self.struct_view(schema) {
                    Some(fields) => fields
                        .iter()
                        .map(|(n, _)| *n)
                        .filter(|n| m.contains_key(*n))
                        .collect(),
                    // Go's maps (and docker's list rows, which marshal a map) sort their
                    // keys; other structs keep the model's field order.
                    None if matches!(self, Val::Obj(_, ObjKind::Map, _))
                        || k.key.is_none() && schema.html_json =>
                    {
                        sorted_keys(m)
                    }
                    None => m.keys().map(String::as_str).collect(),
                };
                for (i, name) in go_order.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(out, name);
                    out.push(':');
                    Val::entry(m, *k, name, schema).write_json(out, schema);
                }
                out.push('}');
            }
        }
    }
}

/// A map's keys in Go's order for maps: sorted (the JSON model keeps insertion order,
/// which is a struct's field order).
pub fn sorted_keys(m: &Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// Go's `time.Duration.String()`: "0s", "1.5µs", "250ms", "3s", "1m30s", "1h0m0s".
pub fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let sign = if d < 0 { "-" } else { "" };
    let u = d.unsigned_abs();
    const S: u64 = 1_000_000_000;
    let body = if u < S {
        let (unit, div) = match u {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        format!("{}{unit}", decimal(u, div))
    } else {
        let (h, rem) = (u / (3600 * S), u % (3600 * S));
        let (m, ns) = (rem / (60 * S), rem % (60 * S));
        let secs = decimal(ns, S);
        match (h, m) {
            (0, 0) => format!("{secs}s"),
            (0, m) => format!("{m}m{secs}s"),
            (h, m) => format!("{h}h{m}m{secs}s"),
        }
    };
    format!("{sign}{body}")
}

/// `v / div` with its fraction, trailing zeros dropped (`div` a power of ten).
fn decimal(v: u64, div: u64) -> String {
    let (whole, frac) = (v / div, v % div);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = div.ilog10() as usize;
    let f = format!("{frac:0digits$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// A float as Go's encoding/json writes it.
fn json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if e.starts_with('-') => format!("{m}e{e}"),
            Some((m, e)) => format!("{m}e+{e}"),
            None => s,
        }
    } else {
        format!("{f}")
    }
}

/// A JSON string as Go writes it with HTML escaping off.
/// Go's `json.Marshal` escaping of `<`, `>` and `&` (which only occur inside strings).
pub fn escape_html_json(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_go() {
        let s = Schema {
            maps: &["Labels"],
            slices: &["Cmd"],
            ..Schema::PLAIN
        };
        let v = json!({"Cmd": ["sh", "-c"], "Labels": {"b": "2", "a": "1"}, "N": null,
                       "E": null, "F": 1.5, "Big": 123456789012u64});
        let root = s.val(&v, Key::default());
        let Val::Obj(m, _, k) = root else {
            panic!("an object")
        };
        let get = |n: &'static str| Val::entry(m, k, n, &s).print(&s);
        assert_eq!(get("Cmd"), "[sh -c]");
        assert_eq!(get("Labels"), "map[a:1 b:2]");
        assert_eq!(get("N"), "<nil>");
        assert_eq!(get("F"), "1.5");
        assert_eq!(get("Big"), "123456789012");
        assert_eq!(get("Nope"), "<no value>");
        let v2 = json!({"Cmd": null, "Labels": null});
        let Val::Obj(m2, _, k2) = s.val(&v2, Key::default()) else {
            panic!("an object")
        };
        assert_eq!(Val::entry(m2, k2, "Cmd", &s).print(&s), "[]");
        assert_eq!(Val::entry(m2, k2, "Labels", &s).print(&s), "map[]");
        assert!(!Val::entry(m2, k2, "Labels", &s).truth());
        assert!(root.truth());
    }

    #[test]
    fn json_like_go() {
        let s = Schema::PLAIN;
        let v = json!({"a": "<&>\u{2028}", "b": [1, 2.5, null], "c": 1e21});
        assert_eq!(
            s.val(&v, Key::default()).to_json(&s),
            r#"{"a":"<&>\u2028","b":[1,2.5,null],"c":1e+21}"#
        );
        assert_eq!(json_float(1e-7), "1e-7");
        assert_eq!(json_float(100.0), "100");
    }
}
