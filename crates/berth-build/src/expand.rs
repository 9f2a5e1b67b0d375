//! Docker's word expansion: the shell-like lexer BuildKit runs over the arguments of ADD,
//! COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG (and ONBUILD's
//! trigger when it runs). `$VAR`, `${VAR}`, `${VAR:-w}`, `${VAR-w}`, `${VAR:+w}`,
//! `${VAR+w}`, `${VAR:?w}`, `${VAR?w}`, `${VAR#p}`, `${VAR##p}`, `${VAR%p}`, `${VAR%%p}`,
//! `${VAR/p/r}`, `${VAR//p/r}`; single quotes keep everything, double quotes keep all but
//! `$` and the escapes of `"`, `$` and the escape character; outside quotes the escape
//! character makes the next character literal.
//!
//! Pure: the environment is a [`Lookup`] the caller gives (the builder passes the stage's
//! ARG and ENV state). Hostile words are bounded: nesting depth and result size.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use thiserror::Error;

mod pattern;
use pattern::{replace, trim_prefix, trim_suffix};

/// Deepest nesting of `${...}` inside `${...}` accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest result (bytes) of one expansion.
pub const MAX_RESULT: usize = 1 << 20;

/// Where variables come from.
pub trait Lookup {
    /// The value of `name`, `None` when it is unset (set-but-empty is `Some("")`).
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher> Lookup for HashMap<String, String, S> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Lookup for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// Pairs in order: the last one of a name wins (as later ENV lines override earlier ones).
impl Lookup for [(String, String)] {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Lookup for Vec<(String, String)> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.as_slice().lookup(name)
    }
}

/// An expansion that failed, with the word it failed on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("failed to process {word:?}: {kind}")]
pub struct ExpandError {
    /// The word (cut to 200 characters).
    pub word: String,
    pub kind: ExpandErrorKind,
}

/// What went wrong, in BuildKit's words where it has them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExpandErrorKind {
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    #[error("unexpected end of statement while looking for matching {0}")]
    Unterminated(char),
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    /// `${VAR?msg}` or `${VAR:?msg}` on an unset (or empty) variable.
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("invalid pattern ({pattern}) in substitution: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("substitutions nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("result longer than {MAX_RESULT} bytes")]
    TooLong,
}

/// The lexer: the escape character of the Dockerfile and whether unset variables stay as
/// written (BuildKit's `SkipUnsetEnv`, used to read heredoc names).
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    escape: char,
    skip_unset: bool,
    skip_quotes: bool,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer::new('\\')
    }
}

impl Lexer {
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            skip_unset: false,
            skip_quotes: false,
        }
    }

    /// Quotes are ordinary characters (BuildKit's `SkipProcessQuotes`, used for the bodies
    /// of COPY/ADD heredocs): only `$` and the escape character act.
    pub fn skip_quotes(mut self, yes: bool) -> Self {
        self.skip_quotes = yes;
        self
    }

    /// Keep `$NAME` and `${NAME...}` as written when NAME is unset.
    pub fn skip_unset(mut self, yes: bool) -> Self {
        self.skip_unset = yes;
        self
    }

    /// One word, expanded: quotes removed, whitespace kept (`ENV a="x y"`, WORKDIR...).
    pub fn word<L: Lookup + ?Sized>(&self, word: &str, env: &L) -> Result<String, ExpandError> {
        self.process(word, env, false).map(|(w, _)| w)
    }

    /// The word split on unquoted whitespace after expansion (also whitespace that came
    /// from a variable's value), as BuildKit's `ProcessWords`.
    pub fn words<L: Lookup + ?Sized>(
        &self,
        word: &str,
        env: &L,
    ) -> Result<Vec<String>, ExpandError> {
        self.process(word, env, false).map(|(_, w)| w)
    }

    /// Like [`Lexer::word`] but quotes stay in the result (BuildKit's `RawQuotes`).
    pub(crate) fn word_raw_quotes<L: Lookup + ?Sized>(
        &self,
        word: &str,
        env: &L,
    ) -> Result<Vec<String>, ExpandError> {
        self.process(word, env, true).map(|(_, w)| w)
    }

    fn process<L: Lookup + ?Sized>(
        &self,
        word: &str,
        env: &L,
        raw_quotes: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let mut sw = ShellWord {
            chars: word.chars().collect(),
            pos: 0,
            escape: self.escape,
            skip_unset: self.skip_unset,
            skip_quotes: self.skip_quotes,
            raw_quotes,
            raw_escapes: false,
            env,
            depth: 0,
        };
        sw.stop_on(None, false).map_err(|kind| ExpandError {
            word: word.chars().take(200).collect(),
            kind,
        })
    }
}

type R<T> = Result<T, ExpandErrorKind>;

struct ShellWord<'a, L: Lookup + ?Sized> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    skip_unset: bool,
    skip_quotes: bool,
    raw_quotes: bool,
    raw_escapes: bool,
    env: &'a L,
    depth: usize,
}

/// BuildKit's word splitter fed as the word is built.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }
    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

fn push_bounded(out: &mut String, s: &str) -> R<()> {
    if out.len().saturating_add(s.len()) > MAX_RESULT {
        return Err(ExpandErrorKind::TooLong);
    }
    out.push_str(s);
    Ok(())
}

impl<L: Lookup + ?Sized> ShellWord<'_, L> {
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

    fn get_env(&self, name: &str) -> Option<String> {
        self.env.lookup(name).map(str::to_owned)
    }

    /// Up to `stop` (consumed) or the end; `None` stops only at the end.
    fn stop_on(&mut self, stop: Option<char>, raw_escapes: bool) -> R<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> R<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let v = self.dollar()?;
                    push_bounded(&mut result, &v)?;
                    words.add_string(&v);
                }
                '\'' if !self.skip_quotes => {
                    let v = self.single_quote()?;
                    push_bounded(&mut result, &v)?;
                    words.add_raw_string(&v);
                }
                '"' if !self.skip_quotes => {
                    let v = self.double_quote()?;
                    push_bounded(&mut result, &v)?;
                    words.add_raw_string(&v);
                }
                _ => {
                    self.pos += 1;
                    let mut ch = ch;
                    if ch == self.escape {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(c) => ch = c,
                        }
                        words.add_raw_char(ch);
                    } else {
                        words.add_char(ch);
                    }
                    if result.len() >= MAX_RESULT {
                        return Err(ExpandErrorKind::TooLong);
                    }
                    result.push(ch);
                }
            }
        }
        if let Some(c) = stop {
            return Err(ExpandErrorKind::Unterminated(c));
        }
        Ok((result, words.finish()))
    }

    fn single_quote(&mut self) -> R<String> {
        let mut result = String::new();
        let open = self.next();
        if self.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => return Err(ExpandErrorKind::UnterminatedSingleQuote),
                Some('\'') => {
                    if self.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> R<String> {
        let mut result = String::new();
        let open = self.next();
        if self.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => return Err(ExpandErrorKind::UnterminatedDoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    if self.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.dollar()?;
                    push_bounded(&mut result, &v)?;
                }
                Some(mut ch) => {
                    self.pos += 1;
                    if ch == self.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.escape => {
                                self.pos += 1;
                                ch = c;
                            }
                            Some(_) => {}
                        }
                    }
                    if result.len() >= MAX_RESULT {
                        return Err(ExpandErrorKind::TooLong);
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.pos += 1;
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            self.pos += 1;
            name.push(ch);
        }
        name
    }

    fn dollar(&mut self) -> R<String> {
        if self.depth >= MAX_DEPTH {
            return Err(ExpandErrorKind::TooDeep);
        }
        self.depth += 1;
        let r = self.dollar_inner();
        self.depth -= 1;
        r
    }

    fn dollar_inner(&mut self) -> R<String> {
        self.pos += 1; // the `$`
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1; // the `{`
        match self.peek() {
            None => return Err(ExpandErrorKind::MissingBrace),
            Some('{' | '}' | ':') => return Err(ExpandErrorKind::BadSubstitution),
            Some(_) => {}
        }
        let name = self.name();
        let mut ch = self.next();
        let mut chs: String = ch.into_iter().collect();
        let mut null_is_unset = false;
        match ch {
            // BuildKit says "unsupported modifier (\u{fffd})" here.
            None => Err(ExpandErrorKind::MissingBrace),
            Some('}') => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                if ch == Some(':') {
                    null_is_unset = true;
                    ch = self.next();
                    chs.extend(ch);
                }
                let raw = matches!(ch, Some('#' | '%'));
                let word = self.stop_on_in_brace('}', raw, ExpandErrorKind::MissingBrace)?;
                let value = self.get_env(&name);
                if self.skip_unset && value.is_none() {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let null = !set || (null_is_unset && value.is_empty());
                match ch {
                    Some('-') => Ok(if null { word } else { value }),
                    Some('+') => Ok(if null { String::new() } else { word }),
                    Some('?') => {
                        if !set || (null_is_unset && value.is_empty()) {
                            let message = if !word.is_empty() {
                                word
                            } else if !set {
                                "is not allowed to be unset".to_string()
                            } else {
                                "is not allowed to be empty".to_string()
                            };
                            return Err(ExpandErrorKind::Required { name, message });
                        }
                        Ok(value)
                    }
                    Some(c @ ('#' | '%')) => {
                        let (greedy, pat) = match word.strip_prefix(c) {
                            Some(rest) => (true, rest.to_string()),
                            None => (false, word),
                        };
                        if c == '%' {
                            trim_suffix(&pat, &value, greedy)
                        } else {
                            trim_prefix(&pat, &value, greedy)
                        }
                    }
                    _ => Err(ExpandErrorKind::UnsupportedModifier(chs)),
                }
            }
            Some('/') => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let pattern = self.stop_on_in_brace('/', true, ExpandErrorKind::MissingSlash)?;
                let repl = self.stop_on_in_brace('}', true, ExpandErrorKind::MissingBrace)?;
                let value = self.get_env(&name);
                let Some(value) = value else {
                    if self.skip_unset {
                        return Ok(format!("${{{name}/{pattern}/{repl}}}"));
                    }
                    return replace(&pattern, &repl, "", all);
                };
                replace(&pattern, &repl, &value, all)
            }
            _ => Err(ExpandErrorKind::UnsupportedModifier(chs)),
        }
    }

    fn stop_on_in_brace(&mut self, stop: char, raw: bool, at_end: ExpandErrorKind) -> R<String> {
        match self.stop_on(Some(stop), raw) {
            Ok((w, _)) => Ok(w),
            Err(_) if self.peek().is_none() => Err(at_end),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
