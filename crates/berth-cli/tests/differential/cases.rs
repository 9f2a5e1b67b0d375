//! The case files of the differential test (`tests/differential/*.cases`); the syntax is in
//! `tests/differential/README.md`.

use std::path::Path;

/// How a case is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exit code, normalised stdout, and whether stderr says anything.
    Full,
    /// Exit code only.
    Code,
    /// Exit code, and stdout as JSON (normalised, minus ignored keys).
    Json,
    /// Run on both sides, both must succeed, nothing compared.
    Setup,
    /// Run on Berth only (must succeed).
    BerthOnly,
    /// Run on Docker only (must succeed).
    DockerOnly,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    pub line: usize,
    pub kind: Kind,
    pub args: Vec<String>,
    /// A regular expression both sides' stderr must match.
    pub err: Option<String>,
    /// JSON keys (names, or dotted paths from the top) not compared.
    pub ignore: Vec<String>,
    /// JSON arrays (names or paths, as `ignore`) compared in any order.
    pub unordered: Vec<String>,
    /// Why Berth differs here on purpose (reported, not failed).
    pub differs: Option<String>,
    /// With `differs`: what Berth's stdout must match instead (a regular expression).
    pub berth: Option<String>,
    /// Standard input for both sides.
    pub stdin: Option<String>,
}

impl Case {
    pub fn command_line(&self) -> String {
        self.args
            .iter()
            .map(|a| {
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c)) {
                    format!("'{}'", a.replace('\'', "'\\''"))
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A group of cases run on clean stores.
#[derive(Debug, Clone)]
pub struct Group {
    pub title: String,
    pub cases: Vec<Case>,
}

/// Splits a command line as a POSIX shell would, without expansions: blanks separate
/// words, '…' is literal, "…" keeps `\"` and `\\` escapes, a backslash escapes one char.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut it = line.chars();
    while let Some(c) = it.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match it.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated '".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match it.next() {
                        Some('"') => break,
                        Some('\\') => match it.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unterminated \"".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \"".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match it.next() {
                    Some(c) => cur.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Parses one case file.
pub fn parse(path: &Path) -> Result<Vec<Group>, String> {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut groups: Vec<Group> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = |m: &str| format!("{file}:{}: {m}", i + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(title) = line.strip_prefix("==") {
            groups.push(Group {
                title: title.trim().to_owned(),
                cases: Vec::new(),
            });
            continue;
        }
        let Some(group) = groups.last_mut() else {
            return Err(at("a case before the first `== title`"));
        };
        if let Some(rest) = line.strip_prefix('$') {
            let (word, args) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = match word {
                "" => Kind::Full,
                "code" => Kind::Code,
                "json" => Kind::Json,
                "setup" => Kind::Setup,
                "berth" => Kind::BerthOnly,
                "docker" => Kind::DockerOnly,
                w => return Err(at(&format!("unknown case kind ${w}"))),
            };
            let args = split(args).map_err(|e| at(&e))?;
            if args.is_empty() {
                return Err(at("a case without a command"));
            }
            group.cases.push(Case {
                file: file.clone(),
                line: i + 1,
                kind,
                args,
                err: None,
                ignore: Vec::new(),
                unordered: Vec::new(),
                differs: None,
                berth: None,
                stdin: None,
            });
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(at("expected `$ ARGS`, `== TITLE` or `KEY: VALUE`"));
        };
        let Some(case) = group.cases.last_mut() else {
            return Err(at(&format!("`{key}:` before any case")));
        };
        let value = value.trim().to_owned();
        match key.trim() {
            "err" => case.err = Some(value),
            "ignore" => case
                .ignore
                .extend(value.split(',').map(|k| k.trim().to_owned())),
            "unordered" => case
                .unordered
                .extend(value.split(',').map(|k| k.trim().to_owned())),
            "differs" => case.differs = Some(value),
            "berth" => case.berth = Some(value),
            "stdin" => case.stdin = Some(value.replace("\\n", "\n")),
            k => return Err(at(&format!("unknown key {k}:"))),
        }
    }
    Ok(groups)
}
