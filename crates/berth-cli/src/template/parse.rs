//! The parser of Go's text/template: tokens to a tree of nodes, with Go's checks (functions
//! and variables must be defined, `break` only inside `range`...) and error messages
//! (`template: NAME:LINE: MESSAGE`).

use std::collections::HashMap;

use super::lexer::{Item, Kind, lex};
use super::node::{Branch, Node};
use super::printf::unquote;

mod pipe;
#[cfg(test)]
pub(super) use pipe::{parse_float, parse_int};

/// Nested parentheses deeper than this are refused (Go allows 10000; a deep recursion here
/// would use the stack up).
const MAX_PAREN_DEPTH: usize = 100;
/// How deep `if`/`range`/`with`/`define`/`block` may nest: Go sets no limit, Berth does so
/// that hostile templates cannot exhaust the stack.
const MAX_NEST_DEPTH: usize = 200;

/// What ends a list of nodes.
enum End {
    End,
    Else,
}

/// Parses `text` into its trees: the main one under `name`, and those of `define` and
/// `block`. `is_func` says which identifiers are functions.
pub fn parse(
    name: &str,
    text: &str,
    is_func: &dyn Fn(&str) -> bool,
) -> Result<HashMap<String, Vec<Node>>, String> {
    let mut p = Parser {
        name,
        items: lex(text),
        idx: 0,
        line: 1,
        action_line: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        paren_depth: 0,
        nest_depth: 0,
        trees: HashMap::new(),
        is_func,
    };
    let root = p.parse_top()?;
    p.add(name, root)?;
    Ok(p.trees)
}

struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    idx: usize,
    line: usize,
    action_line: usize,
    vars: Vec<String>,
    range_depth: usize,
    paren_depth: usize,
    nest_depth: usize,
    trees: HashMap<String, Vec<Node>>,
    is_func: &'a dyn Fn(&str) -> bool,
}

type R<T> = Result<T, String>;

fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

impl Parser<'_> {
    fn next(&mut self) -> Item {
        let i = self
            .items
            .get(self.idx)
            .or_else(|| self.items.last())
            .cloned()
            .unwrap_or(Item {
                kind: Kind::Eof,
                pos: 0,
                val: String::new(),
                line: 1,
            });
        if self.idx < self.items.len() {
            self.idx += 1;
        }
        self.line = i.line;
        i
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&mut self) -> Item {
        let i = self.next();
        self.backup();
        i
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let i = self.next();
            if i.kind != Kind::Space {
                return i;
            }
        }
    }

    /// Skips spaces and returns the next token without consuming it.
    fn peek_non_space(&mut self) -> Item {
        let i = self.next_non_space();
        self.backup();
        i
    }

    fn errorf(&self, msg: impl std::fmt::Display) -> String {
        format!("template: {}:{}: {msg}", self.name, self.line)
    }

    fn expect(&mut self, kind: Kind, context: &str) -> R<Item> {
        let t = self.next_non_space();
        if t.kind != kind {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn unexpected(&self, t: &Item, context: &str) -> String {
        if t.kind == Kind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != t.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if t.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.errorf(format!("{t}{extra}"));
        }
        self.errorf(format!("unexpected {t} in {context}"))
    }

    fn add(&mut self, name: &str, root: Vec<Node>) -> R<()> {
        match self.trees.get(name) {
            Some(old) if !is_empty_tree(old) && !is_empty_tree(&root) => Err(self.errorf(format!(
                "template: multiple definition of template {}",
                quote(name)
            ))),
            Some(_) if is_empty_tree(&root) => Ok(()),
            _ => {
                self.trees.insert(name.to_owned(), root);
                Ok(())
            }
        }
    }

    fn parse_top(&mut self) -> R<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().kind != Kind::Eof {
            if self.peek().kind == Kind::LeftDelim {
                let save = self.idx;
                self.next();
                if self.next_non_space().kind == Kind::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = save;
            }
            match self.text_or_action()? {
                Ok(n) => root.push(n),
                Err(End::End) => return Err(self.errorf("unexpected {{end}}")),
                Err(End::Else) => return Err(self.errorf("unexpected {{else}}")),
            }
        }
        if let Some(t) = self.items.last().filter(|t| t.kind == Kind::Error) {
            let t = t.clone();
            return Err(self.unexpected(&t, "input"));
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> R<()> {
        const CONTEXT: &str = "define clause";
        let t = self.next_non_space();
        if !matches!(t.kind, Kind::String | Kind::RawString) {
            return Err(self.unexpected(&t, CONTEXT));
        }
        let name = unquote(&t.val).map_err(|e| self.errorf(e))?;
        self.expect(Kind::RightDelim, CONTEXT)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        if !matches!(end, End::End) {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {CONTEXT}")));
        }
        self.add(&name, list)
    }

    /// Nodes up to `{{end}}` or `{{else}}`, which is returned apart.
    fn item_list(&mut self) -> R<(Vec<Node>, End)> {
        if self.nest_depth >= MAX_NEST_DEPTH {
            return Err(self.errorf(format!("max nesting depth exceeded ({MAX_NEST_DEPTH})")));
        }
        self.nest_depth += 1;
        let r = self.item_list_nested();
        self.nest_depth -= 1;
        r
    }

    fn item_list_nested(&mut self) -> R<(Vec<Node>, End)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Ok(n) => list.push(n),
                Err(end) => return Ok((list, end)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> R<Result<Node, End>> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Text => Ok(Ok(Node::Text(t.val))),
            Kind::LeftDelim => {
                self.action_line = t.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> R<Result<Node, End>> {
        let t = self.next_non_space();
        let node = match t.kind {
            Kind::Block => self.block()?,
            Kind::Break | Kind::Continue => {
                let word = if t.kind == Kind::Break {
                    "break"
                } else {
                    "continue"
                };
                let n = self.next_non_space();
                if n.kind != Kind::RightDelim {
                    return Err(self.unexpected(&n, &format!("{{{{{word}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(self.errorf(format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                if t.kind == Kind::Break {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
            Kind::Else => {
                let peek = self.peek_non_space();
                if !matches!(peek.kind, Kind::If | Kind::With) {
                    self.expect(Kind::RightDelim, "else")?;
                }
                return Ok(Err(End::Else));
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Err(End::End));
            }
            Kind::If => Node::If(self.control("if")?),
            Kind::Range => Node::Range(self.control("range")?),
            Kind::With => Node::With(self.control("with")?),
            Kind::Template => {
                const CONTEXT: &str = "template clause";
                let tok = self.next_non_space();
                let name = self.template_name(&tok, CONTEXT)?;
                let pipe = if self.next_non_space().kind != Kind::RightDelim {
                    self.backup();
                    Some(self.pipeline(CONTEXT, Kind::RightDelim)?)
                } else {
                    None
                };
                Node::Template {
                    pos: tok.pos,
                    name,
                    pipe,
                }
            }
            _ => {
                self.backup();
                let pos = self.peek().pos;
                Node::Action {
                    pos,
                    pipe: self.pipeline("command", Kind::RightDelim)?,
                }
            }
        };
        Ok(Ok(node))
    }

    fn template_name(&self, t: &Item, context: &str) -> R<String> {
        match t.kind {
            Kind::String | Kind::RawString => unquote(&t.val).map_err(|e| self.errorf(e)),
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn block(&mut self) -> R<Node> {
        const CONTEXT: &str = "block clause";
        let tok = self.next_non_space();
        let name = self.template_name(&tok, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        if !matches!(end, End::End) {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {CONTEXT}")));
        }
        self.add(&name, list)?;
        Ok(Node::Template {
            pos: tok.pos,
            name,
            pipe: Some(pipe),
        })
    }

    /// An `if`, `range` or `with` (an `else if` chain nests too).
    fn control(&mut self, context: &str) -> R<Branch> {
        if self.nest_depth >= MAX_NEST_DEPTH {
            return Err(self.errorf(format!("max nesting depth exceeded ({MAX_NEST_DEPTH})")));
        }
        self.nest_depth += 1;
        let r = self.control_nested(context);
        self.nest_depth -= 1;
        r
    }

    fn control_nested(&mut self, context: &str) -> R<Branch> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, end) = listed?;
        let mut else_list = None;
        if matches!(end, End::Else) {
            let peek = self.peek();
            if context == "if" && peek.kind == Kind::If {
                self.next();
                else_list = Some(vec![Node::If(self.control("if")?)]);
            } else if context == "with" && peek.kind == Kind::With {
                self.next();
                else_list = Some(vec![Node::With(self.control("with")?)]);
            } else {
                let (l, end) = self.item_list()?;
                if !matches!(end, End::End) {
                    return Err(self.errorf("expected end; found {{else}}"));
                }
                else_list = Some(l);
            }
        }
        self.vars.truncate(mark);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }
}

fn quote(s: &str) -> String {
    super::printf::quote(s)
}
