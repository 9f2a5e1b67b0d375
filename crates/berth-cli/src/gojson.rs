//! JSON as Docker's client prints it: Go's encoder escapes `<`, `>` and `&` (and the line
//! separators U+2028 and U+2029) in strings, so `<none>` is `\u003cnone\u003e`.

use serde::Serialize;

/// `v` as one line of JSON, escaped as Go's `json.Marshal` escapes it.
pub fn to_string<T: Serialize + ?Sized>(v: &T) -> serde_json::Result<String> {
    Ok(escape(&serde_json::to_string(v)?))
}

/// Go's HTML-safe escapes over serialized JSON: these characters only occur inside
/// strings there, so replacing them everywhere is exact.
pub fn escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a `--format` value asks for the whole object as JSON (`json`, `{{json .}}`).
pub fn is_whole_json(format: &str) -> bool {
    format == "json" || format.split_whitespace().collect::<String>() == "{{json.}}"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go() {
        assert_eq!(
            to_string(&serde_json::json!({"C": "a && b", "Digest": "<none>"})).unwrap(),
            r#"{"C":"a \u0026\u0026 b","Digest":"\u003cnone\u003e"}"#
        );
        assert!(is_whole_json("{{ json . }}") && is_whole_json("json"));
        assert!(!is_whole_json("{{json .Labels}}"));
    }
}
