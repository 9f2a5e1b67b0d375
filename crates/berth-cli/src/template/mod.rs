//! Go's text/template, as docker's `--format` uses it: the whole language (actions, pipes,
//! variables, `if`/`else if`/`range`/`with`/`break`/`continue`, `define`/`template`/`block`,
//! comments and trim markers), Go's builtins and docker's functions, evaluated over JSON
//! values with Docker's Go types described by a [`Schema`].
//!
//! `lexer` and `parse` build the tree (`node`), `exec` runs it over [`value::Val`]s,
//! `funcs` and `printf` are the functions, `docker` holds what Docker's commands add (their
//! schemas, the inspect fallback, table headers).

mod call;
pub mod docker;
mod exec;
mod funcs;
mod lexer;
mod node;
mod parse;
mod printf;
mod value;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde_json::Value;

pub use funcs::{Func, HEADER_FUNCS};
pub use value::{Key, NilKind, Schema, Val, Zero, escape_html_json};

/// A template error: its message is Go's (`template: :1: unclosed action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Parse(String),
    Exec(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Parse(m) | Error::Exec(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

/// A parsed template and the ones it defines.
#[derive(Debug)]
pub struct Template {
    name: String,
    text: String,
    trees: HashMap<String, Vec<node::Node>>,
}

impl Template {
    /// Parses `text` as the template `name` (docker names most of its templates "").
    pub fn parse(name: &str, text: &str) -> Result<Template, Error> {
        let trees = parse::parse(name, text, &funcs::is_func).map_err(Error::Parse)?;
        Ok(Template {
            name: name.to_owned(),
            text: text.to_owned(),
            trees,
        })
    }

    /// Runs the template over `data`, seen through `schema`.
    pub fn execute(&self, data: &Value, schema: &Schema) -> Result<String, Error> {
        self.execute_with(data, schema, &[]).map_err(|(e, _)| e)
    }

    /// Runs the template with `funcs` in place of the builtins of the same names; on an
    /// error, also returns what was written before it.
    pub fn execute_with(
        &self,
        data: &Value,
        schema: &Schema,
        funcs: &[Func],
    ) -> Result<String, (Error, String)> {
        let mut ex = exec::Exec::new(&self.trees, &self.text, &self.name, schema, funcs);
        let root = schema.val(data, Key::default());
        let root = match root {
            Val::Obj(m, _, k) if schema.root_map => Val::Obj(m, value::ObjKind::Map, k),
            other => other,
        };
        match ex.run(&self.name, root) {
            Ok(()) => Ok(ex.out),
            Err(e) => Err((Error::Exec(e), ex.out)),
        }
    }
}
