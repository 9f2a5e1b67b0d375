//! How BuildKit cuts an instruction's text into pieces: the leading `--flags`, words that
//! keep their quotes (ENV, LABEL, ARG), whitespace-separated lists, JSON arrays, heredoc
//! openers.

use super::Heredoc;
use super::error::ErrorKind;
use crate::expand::Lexer;

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]+`.
pub(crate) fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r')
}

/// Split on runs of whitespace, dropping empty pieces.
pub(crate) fn fields(s: &str) -> Vec<String> {
    s.split(is_ws)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The leading words that start with `--` (quotes and `\` escapes removed), and the rest.
/// A lone `--` ends the flags.
pub(crate) fn extract_flags(line: &str) -> (Vec<String>, &str) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut it = line.char_indices().peekable();
    while let Some((pos, ch)) = it.next() {
        match phase {
            Phase::Spaces => {
                if ch.is_whitespace() {
                    continue;
                }
                if ch != '-' || it.peek().map(|&(_, c)| c) != Some('-') {
                    return (words, &line[pos..]);
                }
                phase = Phase::Word;
                word.push(ch);
            }
            Phase::Word => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (words, &line[pos..]);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                    continue;
                }
                if ch == '\\' {
                    match it.next() {
                        Some((_, c)) => word.push(c),
                        None => continue,
                    }
                    continue;
                }
                word.push(ch);
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                    continue;
                }
                if ch == '\\' {
                    match it.next() {
                        Some((_, c)) => word.push(c),
                        None => phase = Phase::Word,
                    }
                    continue;
                }
                word.push(ch);
            }
        }
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    (words, "")
}

/// Words split on unquoted whitespace, quotes and escapes kept (BuildKit's `parseWords`).
pub(crate) fn quoted_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut it = rest.chars().peekable();
    while let Some(ch) = it.next() {
        match quote {
            None => {
                if ch.is_whitespace() {
                    if in_word && (blank_ok || !word.is_empty()) {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    in_word = false;
                    blank_ok = false;
                    continue;
                }
                in_word = true;
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    match it.next() {
                        None => continue,
                        Some(c) => {
                            word.push(ch);
                            word.push(c);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    match it.next() {
                        None => {
                            quote = None;
                            continue;
                        }
                        Some(c) => {
                            word.push(ch);
                            word.push(c);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// The JSON (exec) form: `Ok(Some(strings))` for an array of strings, `Ok(None)` when the
/// text is not a JSON array (then it is the shell form), an error for an array holding
/// something other than strings.
pub(crate) fn json_array(rest: &str) -> Result<Option<Vec<String>>, ErrorKind> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(ErrorKind::NotStringArray),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The heredoc a word opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), if it opens one. A quoted
/// name (any part of it) turns expansion of the body off, as in a shell.
pub(crate) fn heredoc_word(word: &str) -> Result<Option<Heredoc>, ErrorKind> {
    let Some(rest) = word.strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.contains('<') {
        return Ok(None);
    }
    let lexer = Lexer::new('\\').skip_unset(true);
    let empty: &[(String, String)] = &[];
    // A name that does not lex (an open quote) is no heredoc, as in BuildKit.
    let Ok(plain) = lexer.words(rest, empty) else {
        return Ok(None);
    };
    if plain.len() != 1 {
        return Ok(None);
    }
    let Ok(raw) = lexer.word_raw_quotes(rest, empty) else {
        return Ok(None);
    };
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = raw.len() == 1 && quotes(&plain[0]) == quotes(&raw[0]);
    Ok(Some(Heredoc {
        name: plain[0].clone(),
        content: String::new(),
        expand,
        chomp,
    }))
}

/// Every heredoc an instruction's line opens, in order.
pub(crate) fn heredocs_in_line(line: &str) -> Result<Vec<Heredoc>, ErrorKind> {
    let mut docs = Vec::new();
    for w in quoted_words(line, '\\') {
        if let Some(d) = heredoc_word(&w)? {
            docs.push(d);
        }
    }
    Ok(docs)
}
