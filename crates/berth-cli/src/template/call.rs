//! Calls: functions (with `and`/`or` evaluated lazily), methods, and their arguments
//! checked against the parameters' Go types as Go's `evalArg`/`validateType` do.

use std::borrow::Cow;

use super::exec::Exec;
use super::funcs::{Func, Ty, find};
use super::node::Arg;
use super::value::{NilKind, Val};

type R<T> = Result<T, String>;

impl<'t, 'a> Exec<'t, 'a> {
    pub(super) fn eval_function(
        &mut self,
        dot: &Val<'a>,
        name: &'t str,
        cmd_pos: usize,
        cmd_text: &str,
        rest: &'t [Arg],
        fin: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        let Some(func) = find(name, self.funcs) else {
            return Err(self.error(format!("{} is not a defined function", q(name))));
        };
        if matches!(name, "and" | "or") {
            self.check_arity(&func, name, rest.len(), fin.is_some())?;
            let mut v = Val::Missing;
            for a in rest {
                v = self.eval_arg(dot, Ty::Value, a)?;
                if v.truth() == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        let argv = self.eval_args(dot, &func, name, rest, fin)?;
        let schema = self.schema;
        (func.call)(argv, schema).map_err(|e| {
            self.at(cmd_pos, cmd_text);
            self.error(format!("error calling {name}: {e}"))
        })
    }

    fn check_arity(&self, func: &Func, name: &str, nargs: usize, fin: bool) -> R<()> {
        let num_in = nargs + usize::from(fin);
        let fixed = func.params.len();
        if func.variadic.is_some() {
            if num_in < fixed {
                return Err(self.error(format!(
                    "wrong number of args for {name}: want at least {fixed} got {nargs}"
                )));
            }
        } else if num_in != fixed {
            return Err(self.error(format!(
                "wrong number of args for {name}: want {fixed} got {num_in}"
            )));
        }
        Ok(())
    }

    /// The arguments of a call, each checked against its parameter's type; the pipeline's
    /// value (`fin`) comes last.
    pub(super) fn eval_args(
        &mut self,
        dot: &Val<'a>,
        func: &Func,
        name: &str,
        rest: &'t [Arg],
        fin: Option<Val<'a>>,
    ) -> R<Vec<Val<'a>>> {
        self.check_arity(func, name, rest.len(), fin.is_some())?;
        let ty_of = |i: usize| match func.params.get(i) {
            Some(t) => *t,
            None => func.variadic.unwrap_or(Ty::Value),
        };
        let mut argv = Vec::with_capacity(rest.len() + 1);
        for (i, a) in rest.iter().enumerate() {
            argv.push(self.eval_arg(dot, ty_of(i), a)?);
        }
        if let Some(f) = fin {
            let v = self.validate(f, ty_of(rest.len()))?;
            argv.push(v);
        }
        Ok(argv)
    }

    fn validate(&self, v: Val<'a>, ty: Ty) -> R<Val<'a>> {
        match (ty, v) {
            (Ty::Value, v) => Ok(v),
            (Ty::Any, Val::Missing) => Ok(Val::Nil(NilKind::Iface)),
            (Ty::Any, v) => Ok(v),
            (_, Val::Missing) => Err(self.error(format!("invalid value; expected {}", ty.name()))),
            (Ty::Str, v @ Val::Str(_)) => Ok(v),
            (Ty::Int, v @ Val::Int(_)) => Ok(v),
            (Ty::Int, Val::Duration(d)) => Ok(Val::Int(d)),
            (Ty::Int, Val::Uint(u)) if i64::try_from(u).is_ok() => {
                Ok(Val::Int(i64::try_from(u).unwrap_or(0)))
            }
            (ty, v) => Err(self.error(format!(
                "wrong type for value; expected {}; got {}",
                ty.name(),
                v.type_name(self.schema)
            ))),
        }
    }

    pub(super) fn eval_arg(&mut self, dot: &Val<'a>, ty: Ty, n: &'t Arg) -> R<Val<'a>> {
        self.at(n.pos(), n);
        let v = match n {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match ty {
                    Ty::Value => Ok(Val::Missing),
                    Ty::Any => Ok(Val::Nil(NilKind::Iface)),
                    _ => Err(self.error(format!("cannot assign nil to {}", ty.name()))),
                };
            }
            Arg::Field { idents, .. } => {
                self.typed_recv = self.dot_typed;
                let r =
                    self.eval_field_chain(dot, dot.clone(), idents, std::slice::from_ref(n), None);
                self.typed_recv = false;
                r?
            }
            Arg::Variable { .. } => self.eval_variable(dot, n, &[], None)?,
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, name, n.pos(), &n.to_string(), &[], None)?
            }
            Arg::Chain { .. } => self.eval_chain(dot, n, &[], None)?,
            Arg::Bool { val, .. } => {
                return match ty {
                    Ty::Value | Ty::Any => Ok(Val::Bool(*val)),
                    _ => Err(self.error(format!("expected {}; found {n}", expected(ty)))),
                };
            }
            Arg::String { text, .. } => {
                return match ty {
                    Ty::Value | Ty::Any | Ty::Str => Ok(Val::Str(Cow::Owned(text.clone()))),
                    _ => Err(self.error(format!("expected {}; found {n}", expected(ty)))),
                };
            }
            Arg::Number { num, .. } => {
                return match ty {
                    Ty::Value | Ty::Any => self.ideal_constant(n),
                    Ty::Int => match num.int {
                        Some(i) => Ok(Val::Int(i)),
                        None => Err(self.error(format!("expected integer; found {n}"))),
                    },
                    _ => Err(self.error(format!("expected {}; found {n}", expected(ty)))),
                };
            }
        };
        // Go leaves the location where the argument's evaluation left it.
        self.validate(v, ty)
    }
}

fn expected(ty: Ty) -> &'static str {
    match ty {
        Ty::Int => "integer",
        Ty::Str => "string",
        _ => "value",
    }
}

fn q(s: &str) -> String {
    super::printf::quote(s)
}
