//! Pipelines, commands and operands: the inside of an action.

use super::super::lexer::{Item, Kind};
use super::super::node::{Arg, Command, Number, Pipe};
use super::super::printf::unquote;
use super::{MAX_PAREN_DEPTH, Parser, R, quote};

impl Parser<'_> {
    pub(super) fn pipeline(&mut self, context: &str, end: Kind) -> R<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            if self.peek_non_space().kind != Kind::Variable {
                break;
            }
            let save = self.idx;
            let v = self.next();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                }
                Kind::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue 'decls,
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ => self.idx = save,
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            match t.kind {
                k if k == end => {
                    if pipe.cmds.is_empty() {
                        return Err(self.errorf(format!("missing value for {context}")));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if matches!(
                            c.args.first(),
                            Some(
                                Arg::Bool { .. }
                                    | Arg::Dot { .. }
                                    | Arg::Nil { .. }
                                    | Arg::Number { .. }
                                    | Arg::String { .. }
                            )
                        ) {
                            return Err(self.errorf(format!(
                                "non executable command in pipeline stage {}",
                                i + 1
                            )));
                        }
                    }
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConstant
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn command(&mut self) -> R<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(a) = self.operand()? {
                args.push(a);
            }
            let t = self.next();
            match t.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> R<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(term));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            let f = self.next();
            fields.push(f.val.trim_start_matches('.').to_owned());
        }
        Ok(Some(match term {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    quote(&term.to_string())
                )));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> R<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.kind {
            Kind::Identifier => {
                if !(self.is_func)(&t.val) {
                    return Err(self.errorf(format!("function {} not defined", quote(&t.val))));
                }
                Arg::Identifier { pos, name: t.val }
            }
            Kind::Dot => Arg::Dot { pos },
            Kind::Nil => Arg::Nil { pos },
            Kind::Variable => {
                let idents: Vec<String> = t.val.split('.').map(str::to_owned).collect();
                if !self.vars.iter().any(|v| *v == idents[0]) {
                    return Err(self.errorf(format!("undefined variable {}", quote(&idents[0]))));
                }
                Arg::Variable { pos, idents }
            }
            Kind::Field => Arg::Field {
                pos,
                idents: vec![t.val.trim_start_matches('.').to_owned()],
            },
            Kind::Bool => Arg::Bool {
                pos,
                val: t.val == "true",
            },
            Kind::CharConstant | Kind::Number => Arg::Number {
                pos,
                num: self.number(&t)?,
            },
            Kind::LeftParen => {
                if self.paren_depth >= MAX_PAREN_DEPTH {
                    return Err(self.errorf("max expression depth exceeded"));
                }
                self.paren_depth += 1;
                let p = self.pipeline("parenthesized pipeline", Kind::RightParen);
                self.paren_depth -= 1;
                Arg::Pipe(Box::new(p?))
            }
            Kind::String | Kind::RawString => {
                let text = unquote(&t.val).map_err(|e| self.errorf(e))?;
                Arg::String {
                    pos,
                    quoted: t.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn number(&self, t: &Item) -> R<Number> {
        let text = t.val.clone();
        if t.kind == Kind::CharConstant {
            let inner = unquote(&format!("\"{}\"", &text[1..text.len() - 1]))
                .ok()
                .filter(|s| s.chars().count() == 1)
                .ok_or_else(|| self.errorf(format!("malformed character constant: {text}")))?;
            let c = u32::from(inner.chars().next().unwrap_or('\0'));
            return Ok(Number {
                text,
                int: Some(i64::from(c)),
                uint: Some(u64::from(c)),
                float: Some(f64::from(c)),
            });
        }
        let (uint, int) = parse_int(&text);
        #[allow(clippy::cast_precision_loss)] // Go converts the same way
        let float = int
            .map(|i| i as f64)
            .or_else(|| uint.map(|u| u as f64))
            .or_else(|| parse_float(&text));
        let (mut int, mut uint) = (int, uint);
        if let Some(f) = float {
            if int.is_none() && f.fract() == 0.0 && f.abs() < 9.2e18 {
                #[allow(clippy::cast_possible_truncation)] // integral and in range: exact
                {
                    int = Some(f as i64);
                }
            }
            if uint.is_none() && f.fract() == 0.0 && (0.0..1.8e19).contains(&f) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                // integral, non-negative and in range: exact
                {
                    uint = Some(f as u64);
                }
            }
        }
        if int.is_none() && uint.is_none() && float.is_none() {
            return Err(self.errorf(format!("illegal number syntax: {}", quote(&text))));
        }
        Ok(Number {
            text,
            int,
            uint,
            float,
        })
    }
}

/// Go's `strconv.ParseUint`/`ParseInt` with base 0 (prefixes 0x, 0o, 0b, a leading 0 for
/// octal, underscores after a prefix).
pub(in crate::template) fn parse_int(text: &str) -> (Option<u64>, Option<i64>) {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_owned(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.is_empty() || (!prefixed && digits.contains('_')) {
        return (None, None);
    }
    let digits = digits.replace('_', "");
    let Ok(mag) = u64::from_str_radix(&digits, radix) else {
        return (None, None);
    };
    if neg {
        let int = if mag <= 1 << 63 {
            Some(0i64.wrapping_sub_unsigned(mag))
        } else {
            None
        };
        (None, int)
    } else {
        (Some(mag), i64::try_from(mag).ok())
    }
}

pub(in crate::template) fn parse_float(text: &str) -> Option<f64> {
    if text.contains(['x', 'X', '_']) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}
