//! Parser tests: each instruction and form, directives, continuations, comments, heredocs,
//! every error, and hostile input.

mod errors;
mod expansion;
mod hostile;
mod instructions;
mod lines;

use super::*;

/// Parse, failing the test with the error.
fn p(text: &str) -> Dockerfile {
    match parse("Dockerfile", text) {
        Ok(d) => d,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

/// The instructions of the only stage of `FROM scratch` + `body`.
fn body(body: &str) -> Vec<Instruction> {
    let d = p(&format!("FROM scratch\n{body}"));
    assert_eq!(d.stages.len(), 1);
    d.stages
        .into_iter()
        .next()
        .map(|s| s.instructions)
        .unwrap_or_default()
}

/// The kind of the only instruction in `FROM scratch` + `line`.
fn one(line: &str) -> Kind {
    let mut v = body(line);
    assert_eq!(v.len(), 1, "{line:?}: {v:?}");
    v.remove(0).kind
}

/// The error message of parsing `text`.
fn err(text: &str) -> String {
    match parse("Dockerfile", text) {
        Ok(d) => panic!("{text:?} parsed: {d:?}"),
        Err(e) => e.to_string(),
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}
