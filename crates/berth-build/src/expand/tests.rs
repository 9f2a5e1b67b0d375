//! Docker's word expansion, case by case (expected values from BuildKit's lexer).

use super::*;

fn env() -> Vec<(String, String)> {
    [
        ("A", "a"),
        ("E", ""),
        ("P", "/usr/local/bin/tool.tar.gz"),
        ("S", "x y  z"),
        ("B2", "b"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn w(word: &str) -> String {
    Lexer::default()
        .word(word, &env())
        .unwrap_or_else(|e| panic!("{word:?}: {e}"))
}

fn e(word: &str) -> String {
    match Lexer::default().word(word, &env()) {
        Ok(v) => panic!("{word:?} expanded to {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn plain_variables() {
    assert_eq!(w("$A"), "a");
    assert_eq!(w("${A}"), "a");
    assert_eq!(w("x$A-y"), "xa-y");
    assert_eq!(w("$Ab"), "");
    assert_eq!(w("${A}b"), "ab");
    assert_eq!(w("$UNSET"), "");
    assert_eq!(w("$"), "$");
    assert_eq!(w("a$ b"), "a$ b");
    assert_eq!(w("$/x"), "$/x");
    assert_eq!(w("$B2"), "b");
    assert_eq!(w("$1x"), "x");
    assert_eq!(w("$@"), "");
}

#[test]
fn defaults_and_alternatives() {
    assert_eq!(w("${A:-d}"), "a");
    assert_eq!(w("${E:-d}"), "d");
    assert_eq!(w("${U:-d}"), "d");
    assert_eq!(w("${A-d}"), "a");
    assert_eq!(w("${E-d}"), "");
    assert_eq!(w("${U-d}"), "d");
    assert_eq!(w("${A:+alt}"), "alt");
    assert_eq!(w("${E:+alt}"), "");
    assert_eq!(w("${U:+alt}"), "");
    assert_eq!(w("${A+alt}"), "alt");
    assert_eq!(w("${E+alt}"), "alt");
    assert_eq!(w("${U+alt}"), "");
    assert_eq!(w("${U:-$A}"), "a");
    assert_eq!(w("${U:-${V:-deep}}"), "deep");
    assert_eq!(w("${U:-a b}"), "a b");
    assert_eq!(w("${U:-\\}}"), "}");
    assert_eq!(w("${U:-'q}'}"), "q}");
}

#[test]
fn required() {
    assert_eq!(w("${A:?x}"), "a");
    assert_eq!(w("${E?x}"), "");
    assert_eq!(
        e("${U?}"),
        "failed to process \"${U?}\": U: is not allowed to be unset"
    );
    assert_eq!(
        e("${U:?}"),
        "failed to process \"${U:?}\": U: is not allowed to be unset"
    );
    assert_eq!(
        e("${E:?}"),
        "failed to process \"${E:?}\": E: is not allowed to be empty"
    );
    assert_eq!(
        e("${E:?give E}"),
        "failed to process \"${E:?give E}\": E: give E"
    );
}

#[test]
fn patterns() {
    assert_eq!(w("${P#*/}"), "usr/local/bin/tool.tar.gz");
    assert_eq!(w("${P##*/}"), "tool.tar.gz");
    assert_eq!(w("${P%.*}"), "/usr/local/bin/tool.tar");
    assert_eq!(w("${P%%.*}"), "/usr/local/bin/tool");
    assert_eq!(w("${P#nomatch}"), "/usr/local/bin/tool.tar.gz");
    assert_eq!(w("${P%.t?r.gz}"), "/usr/local/bin/tool");
    assert_eq!(w("${P/local/opt}"), "/usr/opt/bin/tool.tar.gz");
    assert_eq!(w("${P//o/0}"), "/usr/l0cal/bin/t00l.tar.gz");
    assert_eq!(w("${P/\\/usr\\//}"), "local/bin/tool.tar.gz");
    assert_eq!(w("${S// /_}"), "x_y__z");
    assert_eq!(w("${A/a/$}"), "$");
    assert_eq!(w("${U/x/y}"), "");
    assert_eq!(w("${P#\\*}"), "/usr/local/bin/tool.tar.gz");
    assert_eq!(
        e("${P#\\x}"),
        "failed to process \"${P#\\\\x}\": invalid pattern (\\x) in substitution: invalid escape '\\x'"
    );
}

#[test]
fn quotes_and_escapes() {
    assert_eq!(w("'$A'"), "$A");
    assert_eq!(w("\"$A\""), "a");
    assert_eq!(w("\"a 'b' c\""), "a 'b' c");
    assert_eq!(w("'a \"b\" c'"), "a \"b\" c");
    assert_eq!(w("\\$A"), "$A");
    assert_eq!(w("\"\\$A\""), "$A");
    assert_eq!(w("\"\\x\""), "\\x");
    assert_eq!(w("\"\\\"\""), "\"");
    assert_eq!(w("\"\\\\\""), "\\");
    assert_eq!(w("a\\ b"), "a b");
    assert_eq!(w("a\\"), "a");
    // A single quote cannot be escaped inside single quotes.
    assert!(e("it'\\''s").ends_with("matching single-quote"));
    assert_eq!(w("x'y'\"z\"$A"), "xyza");
}

#[test]
fn backtick_escape() {
    let l = Lexer::new('`');
    assert_eq!(l.word("c:\\dir `$A", &env()).unwrap(), "c:\\dir $A");
    assert_eq!(l.word("\"`\"\"", &env()).unwrap(), "\"");
}

#[test]
fn words_split_after_expansion() {
    let l = Lexer::default();
    assert_eq!(
        l.words("a $S 'b c'", &env()).unwrap(),
        ["a", "x", "y", "z", "b c"]
    );
    assert_eq!(l.words("\"$S\"", &env()).unwrap(), ["x y  z"]);
    assert_eq!(l.words("  ", &env()).unwrap(), Vec::<String>::new());
}

#[test]
fn skip_unset_keeps_the_word() {
    let l = Lexer::default().skip_unset(true);
    let empty: &[(String, String)] = &[];
    assert_eq!(
        l.word("$U ${U} ${U:-x} ${U/a/b}", empty).unwrap(),
        "$U ${U} ${U:-x} ${U/a/b}"
    );
}

#[test]
fn syntax_errors() {
    assert_eq!(
        e("${A"),
        "failed to process \"${A\": syntax error: missing '}'"
    );
    assert_eq!(
        e("${A:-x"),
        "failed to process \"${A:-x\": syntax error: missing '}'"
    );
    assert_eq!(
        e("${"),
        "failed to process \"${\": syntax error: missing '}'"
    );
    assert_eq!(
        e("${}"),
        "failed to process \"${}\": syntax error: bad substitution"
    );
    assert_eq!(
        e("${:-x}"),
        "failed to process \"${:-x}\": syntax error: bad substitution"
    );
    assert_eq!(
        e("${A!x}"),
        "failed to process \"${A!x}\": unsupported modifier (!) in substitution"
    );
    assert_eq!(
        e("${A:x}"),
        "failed to process \"${A:x}\": unsupported modifier (:x) in substitution"
    );
    assert_eq!(
        e("${A/x"),
        "failed to process \"${A/x\": syntax error: missing '/' in ${}"
    );
    assert_eq!(
        e("${A/x/y"),
        "failed to process \"${A/x/y\": syntax error: missing '}'"
    );
    assert_eq!(
        e("'abc"),
        "failed to process \"'abc\": unexpected end of statement while looking for matching single-quote"
    );
    assert_eq!(
        e("\"abc"),
        "failed to process \"\\\"abc\": unexpected end of statement while looking for matching double-quote"
    );
}

#[test]
fn results_are_bounded() {
    let big: Vec<(String, String)> = vec![("X".into(), "x".repeat(MAX_RESULT / 2 + 1))];
    let l = Lexer::default();
    assert_eq!(
        l.word("$X$X", &big).unwrap_err().kind,
        ExpandErrorKind::TooLong
    );
    assert_eq!(
        l.word("${X//x/yy}", &big).unwrap_err().kind,
        ExpandErrorKind::TooLong
    );
    assert_eq!(l.word("${X//*/y}", &big).unwrap(), "y");
    // `$$` is a special parameter, never set.
    assert_eq!(l.word(&"$".repeat(10), &big).unwrap(), "");
}

#[test]
fn maps_are_environments() {
    let m: std::collections::HashMap<String, String> = [("K".to_string(), "v".to_string())].into();
    assert_eq!(Lexer::default().word("$K", &m).unwrap(), "v");
    let b: std::collections::BTreeMap<String, String> = [("K".to_string(), "w".to_string())].into();
    assert_eq!(Lexer::default().word("${K:-x}", &b).unwrap(), "w");
    let later = vec![
        ("K".to_string(), "1".to_string()),
        ("K".to_string(), "2".to_string()),
    ];
    assert_eq!(Lexer::default().word("$K", &later).unwrap(), "2");
}

#[test]
fn skip_quotes_keeps_quotes_as_characters() {
    let l = Lexer::default().skip_quotes(true);
    assert_eq!(
        l.word("'$A' \"$A\" \\$A it's", &env()).unwrap(),
        "'a' \"a\" $A it's"
    );
}
