//! `${VAR#p}`, `${VAR%p}`, `${VAR/p/r}`: shell patterns turned into regular expressions
//! as BuildKit does (the `regex` crate matches in linear time, so hostile patterns cannot
//! blow up).

use super::{ExpandErrorKind, MAX_RESULT, R};

/// BuildKit's `convertShellPatternToRegex`: `*` any string (shortest unless greedy), `?`
/// one character, `\` escapes `*`, `?` and `\` (and is dropped before `}` and `/`).
fn pattern_regex(pattern: &str, greedy: bool, anchored: bool) -> R<regex::Regex> {
    let bad = |reason: String| ExpandErrorKind::BadPattern {
        pattern: pattern.chars().take(200).collect(),
        reason,
    };
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let mut it = pattern.chars().peekable();
    while let Some(tok) = it.next() {
        match tok {
            '*' => out.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => out.push('.'),
            '\\' => {
                if matches!(it.peek(), Some('}' | '/')) {
                    continue;
                }
                match it.next() {
                    Some(c @ ('*' | '?' | '\\')) => {
                        out.push('\\');
                        out.push(c);
                    }
                    Some(c) => return Err(bad(format!("invalid escape '\\{c}'"))),
                    None => return Err(bad("invalid escape '\\'".into())),
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
            }
        }
    }
    regex::RegexBuilder::new(&out)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            bad(e
                .to_string()
                .lines()
                .last()
                .unwrap_or("bad regex")
                .to_string())
        })
}

pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> R<String> {
    let re = pattern_regex(pattern, greedy, true)?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// Reverse a pattern keeping each escape before the character it escapes.
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut groups: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            groups.push(chars[i..i + 2].iter().collect());
            i += 2;
        } else {
            groups.push(chars[i].to_string());
            i += 1;
        }
    }
    groups.into_iter().rev().collect()
}

pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> R<String> {
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

pub(super) fn replace(pattern: &str, repl: &str, value: &str, all: bool) -> R<String> {
    let re = pattern_regex(pattern, true, false)?;
    if all {
        // Bound the result before building it: an empty match can repeat at every byte.
        let count = re.find_iter(value).count();
        if value.len().saturating_add(count.saturating_mul(repl.len())) > MAX_RESULT {
            return Err(ExpandErrorKind::TooLong);
        }
        Ok(re.replace_all(value, regex::NoExpand(repl)).into_owned())
    } else {
        let out = re.replacen(value, 1, regex::NoExpand(repl)).into_owned();
        if out.len() > MAX_RESULT {
            return Err(ExpandErrorKind::TooLong);
        }
        Ok(out)
    }
}
