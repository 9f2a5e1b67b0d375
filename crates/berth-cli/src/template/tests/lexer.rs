//! The lexer's tokens and errors.

use super::super::lexer::*;

fn kinds(s: &str) -> Vec<Kind> {
    lex(s).into_iter().map(|i| i.kind).collect()
}

#[test]
fn tokens() {
    use Kind::*;
    assert_eq!(
        kinds("a{{.B}}c"),
        [Text, LeftDelim, Field, RightDelim, Text, Eof]
    );
    assert_eq!(
        kinds("{{$x := .A.B | printf \"%d\" 3}}"),
        [
            LeftDelim, Variable, Space, Declare, Space, Field, Field, Space, Pipe, Space,
            Identifier, Space, String, Space, Number, RightDelim, Eof
        ]
    );
    assert_eq!(kinds("{{/* c */}}x"), [Text, Eof]);
    assert_eq!(kinds("{{range $i, $v := .}}"), {
        [
            LeftDelim, Range, Space, Variable, Char, Space, Variable, Space, Declare, Space, Dot,
            RightDelim, Eof,
        ]
    });
}

#[test]
fn trim_markers() {
    let items = lex("a  {{- .X -}}  b");
    let texts: Vec<&str> = items
        .iter()
        .filter(|i| i.kind == Kind::Text)
        .map(|i| i.val.as_str())
        .collect();
    assert_eq!(texts, ["a", "b"]);
    // "{{-3}}" is a number, not a trim marker.
    assert_eq!(lex("{{-3}}")[1].val, "-3");
}

#[test]
fn errors() {
    let last = |s: &str| lex(s).pop().map(|i| i.val).unwrap_or_default();
    assert_eq!(last("{{.A"), "unclosed action");
    assert_eq!(last("{{/* x"), "unclosed comment");
    assert_eq!(last("{{\"x}}"), "unterminated quoted string");
    assert_eq!(last("{{(.A}}"), "unclosed left paren");
    assert_eq!(last("{{.A)}}"), "unexpected right paren");
    assert_eq!(last("{{3x}}"), "bad number syntax: \"3x\"");
}
