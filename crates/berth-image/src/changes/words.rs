//! The words of a change instruction as Docker's Dockerfile parser and shell lexer see
//! them: JSON arrays (exec form), blank-separated words that keep their quotes until they
//! are processed, and the processing itself (quotes removed, `$VAR`, `${VAR}`,
//! `${VAR:-word}`, `${VAR:+word}`... replaced from the config's environment).

/// `rest` as a JSON array of strings (the exec form), `Ok(None)` when it is not a JSON
/// array at all (the shell form); an array holding anything but strings is an error, as
/// in Docker.
pub(super) fn json_array(rest: &str) -> Result<Option<Vec<String>>, String> {
    let t = rest.trim();
    if !t.starts_with('[') || !t.ends_with(']') {
        return Ok(None);
    }
    let Ok(items) = serde_json::from_str::<Vec<serde_json::Value>>(t) else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(
                "when using JSON array syntax, arrays must be comprised of strings only".to_owned(),
            ),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Splits `s` on blanks outside quotes; quotes and backslashes stay in the words (they
/// are removed by [`process`]).
pub(super) fn split_raw(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                continue;
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => {
                cur.push(c);
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => break,
                }
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// The value of `name` in `env` ("NAME=value" entries; the last one wins).
fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|e| {
        let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
        (k == name).then_some(v)
    })
}

/// Processes one word as Docker's shell lexer does: '…' is literal, "…" keeps `\"`,
/// `\\` and `\$` escapes and expands variables, a backslash outside quotes escapes the
/// next character, and `$NAME`/`${...}` are replaced from `env`.
pub(super) fn process(word: &str, env: &[String]) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut p = Lexer {
        chars: &chars,
        pos: 0,
        env,
    };
    p.word(None)
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    env: &'a [String],
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads until the end, or until `stop` (outside quotes) inside `${...}`.
    fn word(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                return Ok(out);
            }
            self.pos += 1;
            match c {
                '\'' => {
                    loop {
                        match self.next() {
                        Some('\'') => break,
                        Some(c) => out.push(c),
                        None => return Err("unexpected end of statement while looking for matching single-quote".into()),
                    }
                    }
                }
                '"' => {
                    loop {
                        match self.next() {
                        Some('"') => break,
                        Some('\\') => match self.peek() {
                            Some(n @ ('"' | '$' | '\\')) => {
                                self.pos += 1;
                                out.push(n);
                            }
                            _ => out.push('\\'),
                        },
                        Some('$') => out.push_str(&self.dollar()?),
                        Some(c) => out.push(c),
                        None => return Err("unexpected end of statement while looking for matching double-quote".into()),
                    }
                    }
                }
                '\\' => {
                    if let Some(n) = self.next() {
                        out.push(n);
                    }
                }
                '$' => out.push_str(&self.dollar()?),
                c => out.push(c),
            }
        }
        if stop.is_some() {
            return Err("missing '}'".into());
        }
        Ok(out)
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    /// After a `$`: the variable's value, or a literal `$`.
    fn dollar(&mut self) -> Result<String, String> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let name = self.name();
                if name.is_empty() {
                    return Err("bad substitution: missing variable name".into());
                }
                let value = lookup(self.env, &name);
                match self.next() {
                    Some('}') => Ok(value.unwrap_or_default().to_owned()),
                    Some(m) => {
                        let colon = m == ':';
                        let op = if colon { self.next() } else { Some(m) };
                        let word = self.word(Some('}'))?;
                        self.pos += 1; // the '}'
                        let set = value.is_some_and(|v| !colon || !v.is_empty());
                        match op {
                            Some('-') => Ok(if set {
                                value.unwrap_or_default().to_owned()
                            } else {
                                word
                            }),
                            Some('+') => Ok(if set { word } else { String::new() }),
                            Some('?') if set => Ok(value.unwrap_or_default().to_owned()),
                            Some('?') => Err(format!(
                                "{name}: {}",
                                if word.is_empty() {
                                    "is not allowed to be unset"
                                } else {
                                    &word
                                }
                            )),
                            other => Err(format!(
                                "unsupported modifier ({}) in substitution",
                                other.map(String::from).unwrap_or_default()
                            )),
                        }
                    }
                    None => Err("missing '}'".into()),
                }
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let name = self.name();
                Ok(lookup(self.env, &name).unwrap_or_default().to_owned())
            }
            _ => Ok("$".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<String> {
        vec!["A=1".into(), "E=".into(), "P=/usr/bin".into()]
    }

    #[test]
    fn words_and_expansion() {
        let e = env();
        let p = |w: &str| process(w, &e).unwrap();
        assert_eq!(p("$A-x"), "1-x");
        assert_eq!(p("${A}y"), "1y");
        assert_eq!(p("${NO:-def}"), "def");
        assert_eq!(p("${E:-def}"), "def");
        assert_eq!(p("${E-def}"), "");
        assert_eq!(p("${A:+alt}"), "alt");
        assert_eq!(p("${NO:+alt}"), "");
        assert_eq!(p("\\$A"), "$A");
        assert_eq!(p("'$A'"), "$A");
        assert_eq!(p("\"$A b\""), "1 b");
        assert_eq!(p("\"\\\"q\\\"\""), "\"q\"");
        assert_eq!(p("$P:/x"), "/usr/bin:/x");
        assert_eq!(p("a$"), "a$");
        assert_eq!(p("$NOPE"), "");
        assert_eq!(p("${A:-${P}}"), "1");
        assert_eq!(p("${NO:-${P}}"), "/usr/bin");
        for bad in ["${A", "${}", "${A%x}", "'open", "\"open", "${NO:?}"] {
            assert!(process(bad, &e).is_err(), "{bad}");
        }
        assert_eq!(
            split_raw("a=1 b=\"two words\"  c='x y'").unwrap(),
            ["a=1", "b=\"two words\"", "c='x y'"]
        );
        assert!(split_raw("a=\"open").is_err());
        assert_eq!(
            json_array(r#"["a", "b"]"#).unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(json_array("[bad").unwrap(), None);
        assert_eq!(json_array("echo [x]").unwrap(), None);
        assert!(json_array(r#"["a", 1]"#).is_err());
    }
}
