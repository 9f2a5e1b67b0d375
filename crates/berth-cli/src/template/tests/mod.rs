//! The engine end to end: templates over JSON, compared with what docker 28.2 prints.

use serde_json::{Value, json};

use super::{Schema, Template, docker};

mod exec;
mod funcs;
mod lexer;
mod parse;

fn run(t: &str, v: &Value) -> Result<String, String> {
    let t = Template::parse("", t).map_err(|e| e.to_string())?;
    docker::inspect(&t, v, &docker::CONTAINER, true).map_err(|e| e.to_string())
}

#[test]
fn basics() {
    let v = json!({"Name": "/c1", "State": {"Running": true, "ExitCode": 0}});
    assert_eq!(
        run("{{.Name}} {{.State.Running}}", &v).as_deref(),
        Ok("/c1 true")
    );
    let _ = Schema::PLAIN;
}
