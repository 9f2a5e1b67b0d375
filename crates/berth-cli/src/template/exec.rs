//! The executor: walks the tree over a value, as Go's text/template does (pipelines,
//! variables, `if`/`with`/`range` with `else`, `break`/`continue`, `template`), and reports
//! errors as Go does: `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.

use std::borrow::Cow;
use std::collections::HashMap;

use super::funcs::{Func, Ty};
use super::node::{Arg, Branch, Command, Node, Pipe};
use super::value::{Key, NilKind, ObjKind, Schema, Val, Zero};

/// Nested `{{template}}` calls deeper than this are refused (Go allows 100000, which a
/// recursive walk here could not).
const MAX_DEPTH: usize = 1000;
/// Nested lists (`if` in `range` in a template call...) and template calls together.
const MAX_NEST: usize = 2 * MAX_DEPTH;

/// Whether a list ended normally or by `{{break}}`/`{{continue}}`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

type R<T> = Result<T, String>;

pub struct Exec<'t, 'a> {
    pub trees: &'t HashMap<String, Vec<Node>>,
    /// The template's text, for line and column numbers.
    pub text: &'t str,
    /// The top-level template's name (locations), and the executing one's.
    pub parse_name: &'t str,
    pub tmpl_name: &'t str,
    pub schema: &'t Schema,
    /// Functions that replace the builtins (docker's header functions).
    pub funcs: &'t [Func],
    pub vars: Vec<(&'t str, Val<'a>)>,
    pub depth: usize,
    nest: usize,
    /// The receiver of a chain's fields is a function's result, not docker's data.
    pub(super) typed_recv: bool,
    /// The dot is a pipeline's result (`with`, `template`), not an element of docker's
    /// raw data (`range`): it has its own Go type.
    pub(super) dot_typed: bool,
    pub out: String,
    /// The node being evaluated, for errors: its offset and its text.
    at: (usize, String),
}

impl<'t, 'a> Exec<'t, 'a> {
    pub fn new(
        trees: &'t HashMap<String, Vec<Node>>,
        text: &'t str,
        name: &'t str,
        schema: &'t Schema,
        funcs: &'t [Func],
    ) -> Self {
        Exec {
            trees,
            text,
            parse_name: name,
            tmpl_name: name,
            schema,
            funcs,
            vars: Vec::new(),
            depth: 0,
            nest: 0,
            typed_recv: false,
            dot_typed: false,
            out: String::new(),
            at: (0, String::new()),
        }
    }

    /// Runs the template `name` over `dot`.
    pub fn run(&mut self, name: &'t str, dot: Val<'a>) -> R<()> {
        let Some(tree) = self.trees.get(name) else {
            return Err(format!(
                "template: {}: {} is an incomplete or empty template",
                self.tmpl_name,
                super::printf::quote(name)
            ));
        };
        self.vars.push(("$", dot.clone()));
        self.walk(&dot, tree)?;
        Ok(())
    }

    pub(super) fn at(&mut self, pos: usize, what: impl ToString) {
        self.at = (pos, what.to_string());
    }

    pub(super) fn error(&self, msg: impl std::fmt::Display) -> String {
        let pos = self.at.0.min(self.text.len());
        let before = &self.text[..pos];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => pos - nl - 1,
            None => pos,
        };
        format!(
            "template: {}:{line}:{col}: executing {} at <{}>: {msg}",
            self.parse_name,
            super::printf::quote(self.tmpl_name),
            self.at.1
        )
    }

    /// Runs `nodes`; nested lists and template calls together go no deeper than
    /// `MAX_NEST`, so that no template exhausts the stack.
    fn walk(&mut self, dot: &Val<'a>, nodes: &'t [Node]) -> R<Flow> {
        if self.nest >= MAX_NEST {
            return Err(self.error(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        self.nest += 1;
        let r = self.walk_nested(dot, nodes);
        self.nest -= 1;
        r
    }

    fn walk_nested(&mut self, dot: &Val<'a>, nodes: &'t [Node]) -> R<Flow> {
        for n in nodes {
            let flow = match n {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action { pos, pipe } => {
                    self.at(*pos, format_args!("{{{{{pipe}}}}}"));
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.out.push_str(&v.print(self.schema));
                    }
                    Flow::Normal
                }
                Node::If(b) => self.walk_if_with(dot, b, false)?,
                Node::With(b) => self.walk_if_with(dot, b, true)?,
                Node::Range(b) => self.walk_range(dot, b)?,
                Node::Template { pos, name, pipe } => {
                    self.at(*pos, n);
                    self.walk_template(dot, name, pipe.as_ref())?;
                    Flow::Normal
                }
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_if_with(&mut self, dot: &Val<'a>, b: &'t Branch, with: bool) -> R<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if v.truth() {
            let saved = self.dot_typed;
            self.dot_typed = saved || with;
            let r = self.walk(if with { &v } else { dot }, &b.list);
            self.dot_typed = saved;
            r?
        } else if let Some(e) = &b.else_list {
            self.walk(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Val<'a>, b: &'t Branch) -> R<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let body = self.vars.len();
        let items: Vec<(Val<'a>, Val<'a>)> = match &val {
            Val::Int(_) | Val::Uint(_) if b.pipe.decl.len() > 1 => {
                return Err(self.error(format!(
                    "can't use {} to iterate over more than one variable",
                    val.print(self.schema)
                )));
            }
            Val::Int(n) => (0..*n).map(|i| (Val::Missing, Val::Int(i))).collect(),
            Val::Uint(n) => (0..*n).map(|i| (Val::Missing, Val::Uint(i))).collect(),
            Val::Arr(..) | Val::List(_) => val
                .elements(self.schema)
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, e)| (Val::Int(i64::try_from(i).unwrap_or(i64::MAX)), e))
                .collect(),
            Val::Obj(m, ObjKind::Map, k) => super::value::sorted_keys(m)
                .into_iter()
                .map(|name| {
                    (
                        Val::Str(Cow::Borrowed(name)),
                        Val::entry(m, *k, name, self.schema),
                    )
                })
                .collect(),
            Val::Missing | Val::Nil(NilKind::Slice | NilKind::Map | NilKind::Iface) => Vec::new(),
            other => {
                return Err(self.error(format!(
                    "range can't iterate over {}",
                    other.print(self.schema)
                )));
            }
        };
        let empty = items.is_empty();
        let decl = &b.pipe.decl;
        // Elements of docker's raw data are `interface {}`s; numbers and made lists are not.
        let saved_typed = self.dot_typed;
        self.dot_typed = matches!(val, Val::Int(_) | Val::Uint(_) | Val::List(_));
        for (index, elem) in items {
            if !decl.is_empty() {
                if b.pipe.is_assign {
                    let first = if decl.len() > 1 { &index } else { &elem };
                    self.set_var(&decl[0], first.clone())?;
                } else if let Some(top) = self.vars.len().checked_sub(1) {
                    self.vars[top].1 = elem.clone();
                }
            }
            if decl.len() > 1 {
                if b.pipe.is_assign {
                    self.set_var(&decl[1], elem.clone())?;
                } else if let Some(second) = self.vars.len().checked_sub(2) {
                    self.vars[second].1 = index.clone();
                }
            }
            let flow = self.walk(&elem, &b.list)?;
            self.vars.truncate(body);
            if flow == Flow::Break {
                break;
            }
        }
        self.dot_typed = saved_typed;
        self.vars.truncate(mark);
        if empty && let Some(e) = &b.else_list {
            return self.walk(dot, e);
        }
        Ok(Flow::Normal)
    }

    fn walk_template(&mut self, dot: &Val<'a>, name: &'t str, pipe: Option<&'t Pipe>) -> R<()> {
        let Some(tree) = self.trees.get(name) else {
            return Err(self.error(format!(
                "template {} not defined",
                super::printf::quote(name)
            )));
        };
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        let dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Val::Missing,
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$", dot.clone())]);
        let saved_name = std::mem::replace(&mut self.tmpl_name, name);
        self.depth += 1;
        let saved_typed = std::mem::replace(&mut self.dot_typed, true);
        let r = self.walk(&dot, tree);
        self.dot_typed = saved_typed;
        self.depth -= 1;
        self.tmpl_name = saved_name;
        self.vars = saved_vars;
        r.map(|_| ())
    }

    fn set_var(&mut self, name: &str, v: Val<'a>) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.error(format!("undefined variable: {name}"))),
        }
    }

    fn var_value(&self, name: &str) -> R<Val<'a>> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.error(format!("undefined variable: {name}")))
    }

    pub(super) fn eval_pipeline(&mut self, dot: &Val<'a>, pipe: &'t Pipe) -> R<Val<'a>> {
        self.at(pipe.pos, pipe);
        let mut value: Option<Val<'a>> = None;
        for cmd in &pipe.cmds {
            let mut v = self.eval_command(dot, cmd, value.take())?;
            // An interface{} value: go down to what it holds.
            if matches!(v, Val::Nil(NilKind::Iface)) {
                v = Val::Missing;
            }
            value = Some(v);
        }
        let value = value.unwrap_or(Val::Missing);
        for d in &pipe.decl {
            if pipe.is_assign {
                self.set_var(d, value.clone())?;
            } else {
                self.vars.push((d.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Val<'a>>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.error(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Val<'a>,
        cmd: &'t Command,
        fin: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { pos, idents } => {
                self.at(*pos, first);
                self.typed_recv = self.dot_typed;
                let r = self.eval_field_chain(dot, dot.clone(), idents, &cmd.args, fin);
                self.typed_recv = false;
                return r;
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, fin),
            Arg::Identifier { pos, name } => {
                self.at(*pos, first);
                return self.eval_function(
                    dot,
                    name,
                    cmd.pos,
                    &cmd.to_string(),
                    &cmd.args[1..],
                    fin,
                );
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, &cmd.args, fin),
            _ => {}
        }
        self.at(first.pos(), first);
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { val, .. } => Ok(Val::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.error("nil is not a command")),
            Arg::Number { .. } => self.ideal_constant(first),
            Arg::String { text, .. } => Ok(Val::Str(Cow::Owned(text.clone()))),
            other => Err(self.error(format!("can't evaluate command {other}"))),
        }
    }

    pub(super) fn ideal_constant(&mut self, n: &Arg) -> R<Val<'a>> {
        let Arg::Number { num, .. } = n else {
            return Ok(Val::Missing);
        };
        let t = &num.text;
        let hex = t.len() > 2 && t.starts_with('0') && t[1..].starts_with(['x', 'X']);
        if num.float.is_some() && !hex && !t.starts_with('\'') && t.contains(['.', 'e', 'E']) {
            return Ok(Val::Float(num.float.unwrap_or(0.0)));
        }
        match (num.int, num.uint) {
            (Some(i), _) => Ok(Val::Int(i)),
            (None, Some(_)) => Err(self.error(format!("{t} overflows int"))),
            _ => Ok(Val::Missing),
        }
    }

    pub(super) fn eval_variable(
        &mut self,
        dot: &Val<'a>,
        var: &'t Arg,
        args: &'t [Arg],
        fin: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        let Arg::Variable { pos, idents } = var else {
            return Ok(Val::Missing);
        };
        self.at(*pos, var);
        let value = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            if !args.is_empty() {
                self.not_a_function(args, &fin)?;
            }
            return Ok(value);
        }
        // Variables hold pipelines' results, which Go unwraps from `interface {}`.
        self.typed_recv = true;
        let r = self.eval_field_chain(dot, value, &idents[1..], args, fin);
        self.typed_recv = false;
        r
    }

    pub(super) fn eval_chain(
        &mut self,
        dot: &Val<'a>,
        chain: &'t Arg,
        args: &'t [Arg],
        fin: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        let Arg::Chain { pos, node, fields } = chain else {
            return Ok(Val::Missing);
        };
        self.at(*pos, chain);
        if matches!(node.as_ref(), Arg::Nil { .. }) {
            return Err(self.error(format!("indirection through explicit nil in {chain}")));
        }
        let recv = self.eval_arg(dot, Ty::Value, node)?;
        // Go reports errors in the fields at the node last evaluated; a pipeline's or a
        // function's result has its own Go type even in docker's raw data (Go unwraps
        // `interface {}` values there).
        self.typed_recv = true;
        let r = self.eval_field_chain(dot, recv, fields, args, fin);
        self.typed_recv = false;
        r
    }

    pub(super) fn eval_field_chain(
        &mut self,
        dot: &Val<'a>,
        mut recv: Val<'a>,
        idents: &'t [String],
        args: &'t [Arg],
        fin: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        let n = idents.len();
        for id in &idents[..n - 1] {
            recv = self.eval_field(dot, id, &[], None, recv)?;
            // What a field of docker's raw data holds is an `interface {}` again.
            self.typed_recv = false;
        }
        self.eval_field(dot, &idents[n - 1], args, fin, recv)
    }

    fn eval_field(
        &mut self,
        dot: &Val<'a>,
        name: &'t str,
        args: &'t [Arg],
        fin: Option<Val<'a>>,
        recv: Val<'a>,
    ) -> R<Val<'a>> {
        // Errors name the node last evaluated (the caller's), as Go's evalField does.
        let has_args = args.len() > 1 || fin.is_some();
        let schema = self.schema;
        match recv {
            Val::Missing if schema.raw => {
                Err(self.error(format!("nil data; no entry for key {}", q(name))))
            }
            Val::Missing => Ok(Val::Missing),
            Val::Nil(NilKind::Iface) => {
                Err(self.error(format!("nil pointer evaluating interface {{}}.{name}")))
            }
            Val::Obj(m, kind, k) => {
                if k.key.is_none()
                    && let Some(method) = schema.method(name)
                {
                    let rest = args.get(1..).unwrap_or(&[]);
                    let call = Func {
                        name: "",
                        params: &[Ty::Str],
                        variadic: None,
                        call: |_, _| Ok(Val::Missing),
                    };
                    let argv = self.eval_args(dot, &call, name, rest, fin)?;
                    return method(m, &argv)
                        .map_err(|e| self.error(format!("error calling {name}: {e}")));
                }
                let child = |key: &'a str| Key {
                    parent: k.key,
                    key: Some(key),
                };
                if kind == ObjKind::Map {
                    if has_args {
                        return Err(self.error(format!("{name} is not a method but has arguments")));
                    }
                    return match m.get_key_value(name) {
                        Some((key, _)) => Ok(Val::entry(m, k, key, schema)),
                        None if schema.raw => {
                            Err(self.error(format!("map has no entry for key {}", q(name))))
                        }
                        None => Ok(Val::Missing),
                    };
                }
                // A struct's field goes by its Go name; docker's JSON keys mostly are the
                // same (events' are lower-case: any case of a key matches then).
                let found = match schema.renamed(name) {
                    // (info's CPUShares is keyed CPUShares, a container's CpuShares)
                    Ok(Some(json)) => m.get_key_value(json).or_else(|| m.get_key_value(name)),
                    Err(()) => None,
                    Ok(None) => m
                        .get_key_value(name)
                        .or_else(|| m.iter().find(|(key, _)| key.eq_ignore_ascii_case(name))),
                };
                if let Some((key, v)) = found {
                    if has_args && schema.methods_only && k.key.is_none() {
                        let got = args.len().saturating_sub(1) + usize::from(fin.is_some());
                        return Err(self
                            .error(format!("wrong number of args for {name}: want 0 got {got}")));
                    }
                    if has_args {
                        return Err(self.error(format!(
                            "{name} has arguments but cannot be invoked as function"
                        )));
                    }
                    return Ok(schema.val(v, child(key)));
                }
                let ck = Key {
                    parent: k.key,
                    key: Some(name),
                };
                if let Some(z) = schema.omitted(ck) {
                    return Ok(match z {
                        Zero::Nil(n) => Val::Nil(n),
                        Zero::Str => Val::Str(Cow::Borrowed("")),
                        Zero::Bool => Val::Bool(false),
                        Zero::Int => Val::Int(0),
                    });
                }
                Err(self.error(format!(
                    "can't evaluate field {name} in type {}",
                    recv.type_name(schema)
                )))
            }
            Val::Nil(NilKind::Map) => Ok(Val::Missing),
            Val::Nil(NilKind::Ptr) => Err(self.error(format!(
                "nil pointer evaluating {}.{name}",
                recv.type_name(schema)
            ))),
            // docker's raw data is interface{} all the way down.
            _ if schema.raw && !self.typed_recv => Err(self.error(format!(
                "can't evaluate field {name} in type interface {{}}"
            ))),
            other => Err(self.error(format!(
                "can't evaluate field {name} in type {}",
                other.type_name(schema)
            ))),
        }
    }
}

fn q(s: &str) -> String {
    super::printf::quote(s)
}
