//! The parser: trees printed back, and Go's parse errors.

use super::super::parse::*;

fn p(s: &str) -> Result<String, String> {
    let funcs = |n: &str| matches!(n, "printf" | "eq" | "len" | "index");
    parse("", s, &funcs).map(|t| {
        t.get("")
            .map(|n| n.iter().map(|x| x.to_string()).collect::<String>())
            .unwrap_or_default()
    })
}

#[test]
fn round_trips() {
    for (src, want) in [
        ("{{.A.B}}", "{{.A.B}}"),
        ("{{$x := .A}}{{$x.B}}", "{{$x := .A}}{{$x.B}}"),
        (
            "{{range $i, $v := .L}}{{$i}}{{else}}none{{end}}",
            "{{range $i, $v := .L}}{{$i}}{{else}}\"none\"{{end}}",
        ),
        (
            "{{if eq .A 1}}a{{else if .B}}b{{end}}",
            "{{if eq .A 1}}\"a\"{{else}}{{if .B}}\"b\"{{end}}{{end}}",
        ),
        (
            "{{(index .A 0).B | printf \"%s\"}}",
            "{{(index .A 0).B | printf \"%s\"}}",
        ),
        ("{{- .A -}}", "{{.A}}"),
    ] {
        assert_eq!(p(src).as_deref(), Ok(want), "{src}");
    }
}

#[test]
fn errors_as_go() {
    for (src, want) in [
        ("{{.A", "template: :1: unclosed action"),
        ("{{.A}}{{end}}", "template: :1: unexpected {{end}}"),
        ("{{if .A}}", "template: :1: unexpected EOF"),
        (
            "{{nofunc 1}}",
            "template: :1: function \"nofunc\" not defined",
        ),
        ("{{$x}}", "template: :1: undefined variable \"$x\""),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ("{{}}", "template: :1: missing value for command"),
        (
            "{{.A | 3}}",
            "template: :1: non executable command in pipeline stage 2",
        ),
        (
            "{{\"x\".A}}",
            "template: :1: unexpected . after term \"\\\"x\\\"\"",
        ),
        ("{{3.A}}", "template: :1: bad number syntax: \"3.A\""),
        ("a\n{{.A", "template: :2: unclosed action"),
        (
            "{{range .A}}{{else}}{{else}}{{end}}",
            "template: :1: expected end; found {{else}}",
        ),
        ("{{.A %}}", "template: :1: unexpected \"%\" in operand"),
    ] {
        assert_eq!(p(src).err().as_deref(), Some(want), "{src}");
    }
}

#[test]
fn numbers() {
    assert_eq!(parse_int("0x10"), (Some(16), Some(16)));
    assert_eq!(parse_int("-5"), (None, Some(-5)));
    assert_eq!(parse_int("017"), (Some(15), Some(15)));
    assert_eq!(parse_int("1_000"), (None, None));
    assert_eq!(parse_float("1e3"), Some(1000.0));
}
