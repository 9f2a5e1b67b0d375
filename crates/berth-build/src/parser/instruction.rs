//! One logical line to one typed instruction (or the FROM that opens a stage), with
//! BuildKit's checks and messages.

use std::time::Duration;

use super::duration::parse_go_duration;
use super::error::ErrorKind;
use super::flags::{self, FlagType};
use super::lines::RawLine;
use super::words::{extract_flags, fields, heredoc_word, is_ws, json_array, quoted_words};
use super::{
    ArgDef, Copy, Flag, Form, Healthcheck, Instruction, KeyValue, Kind, Location, Run, Source,
    Stage,
};

pub(crate) enum Parsed {
    From(Stage),
    Instruction(Instruction),
}

/// An error with the column it points at.
type Result<T> = std::result::Result<T, (usize, ErrorKind)>;

const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Where a piece of the line is: its column when it sits on the first physical line,
/// else the instruction's.
struct Columns<'a> {
    text: &'a str,
    base: usize,
    first_len: usize,
}

impl Columns<'_> {
    /// The column of `sub`, a slice of `text`.
    fn of(&self, sub: &str) -> usize {
        let start = self.text.as_ptr() as usize;
        let at = sub.as_ptr() as usize;
        if at < start || at > start + self.text.len() {
            return self.base;
        }
        let Some(before) = self.text.get(..at - start) else {
            return self.base;
        };
        let chars = before.chars().count();
        if chars < self.first_len {
            self.base + chars
        } else {
            self.base
        }
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest(word: &str) -> Option<&'static str> {
    if word.chars().count() > 32 {
        return None;
    }
    let upper = word.to_uppercase();
    KEYWORDS
        .iter()
        .map(|k| (levenshtein(&upper, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn durations(
    p: &flags::Parsed,
    name: &'static str,
) -> std::result::Result<Option<Duration>, ErrorKind> {
    let Some(v) = p.string(name) else {
        return Ok(None);
    };
    if v.is_empty() {
        return Ok(None);
    }
    let bad = |reason: String| ErrorKind::BadFlagValue {
        flag: name,
        value: v.clone(),
        reason,
    };
    let d = parse_go_duration(&v).map_err(bad)?;
    if d.is_zero() {
        return Ok(None);
    }
    if d < Duration::from_millis(1) {
        return Err(bad("cannot be less than 1ms".into()));
    }
    Ok(Some(d))
}

/// ENV and LABEL: `k=v k2="v 2"` or the legacy `k v w`.
fn name_vals(
    args: &str,
    kw: &'static str,
    escape: char,
) -> std::result::Result<Vec<KeyValue>, ErrorKind> {
    let words = quoted_words(args, escape);
    let Some(first) = words.first() else {
        return Err(ErrorKind::AtLeastOne(kw));
    };
    if !first.contains('=') {
        let mut parts = args.splitn(2, is_ws);
        let key = parts.next().unwrap_or_default().to_string();
        let value = parts
            .next()
            .map(|v| v.trim_start_matches(is_ws))
            .unwrap_or("");
        if value.is_empty() {
            return Err(ErrorKind::TwoArguments(kw));
        }
        return Ok(vec![KeyValue {
            key,
            value: value.to_string(),
        }]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            None => Err(ErrorKind::MissingEquals(w)),
            Some(("", _)) => Err(ErrorKind::BlankName(kw)),
            Some((k, v)) => Ok(KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            }),
        })
        .collect()
}

fn command(args: &str) -> std::result::Result<Form, ErrorKind> {
    Ok(match json_array(args)? {
        Some(list) => Form::Exec(list),
        None if args.is_empty() => Form::Exec(Vec::new()),
        None => Form::Shell(args.to_string()),
    })
}

fn list(args: &str) -> std::result::Result<(Vec<String>, bool), ErrorKind> {
    Ok(match json_array(args)? {
        Some(l) => (l, true),
        None => (fields(args), false),
    })
}

fn stage_name(args: &[String]) -> std::result::Result<Option<String>, ErrorKind> {
    match args {
        [_] => Ok(None),
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            let mut chars = lower.chars();
            let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !ok {
                return Err(ErrorKind::BadStageName(name.clone()));
            }
            Ok(Some(lower))
        }
        _ => Err(ErrorKind::FromArguments),
    }
}

fn copy(
    kw: &'static str,
    flag_words: &[String],
    args: &str,
    line: &RawLine,
) -> std::result::Result<Copy, ErrorKind> {
    let (words, json) = list(args)?;
    if words.len() < 2 {
        return Err(ErrorKind::NoDestination(kw));
    }
    let known: &[(&'static str, FlagType)] = if kw == "COPY" {
        &[
            ("from", FlagType::String),
            ("chown", FlagType::String),
            ("chmod", FlagType::String),
            ("link", FlagType::Bool),
            ("parents", FlagType::Bool),
            ("exclude", FlagType::Strings),
        ]
    } else {
        &[
            ("chown", FlagType::String),
            ("chmod", FlagType::String),
            ("link", FlagType::Bool),
            ("exclude", FlagType::Strings),
            ("checksum", FlagType::String),
            ("keep-git-dir", FlagType::Bool),
        ]
    };
    let f = flags::parse(flag_words, known)?;
    let (dest, srcs) = words.split_last().ok_or(ErrorKind::NoDestination(kw))?;
    if heredoc_word(dest)?.is_some() {
        return Err(ErrorKind::BadHeredoc(kw, "a destination"));
    }
    let mut sources = Vec::with_capacity(srcs.len());
    for s in srcs {
        let doc =
            heredoc_word(s)?.and_then(|d| line.heredocs.iter().find(|h| h.name == d.name).cloned());
        sources.push(match doc {
            Some(d) if !json => Source::Heredoc(d),
            _ => Source::Path(s.clone()),
        });
    }
    Ok(Copy {
        from: f.string("from"),
        chown: f.string("chown"),
        chmod: f.string("chmod"),
        link: f.bool("link"),
        parents: f.bool("parents"),
        excludes: f.strings("exclude"),
        checksum: f.string("checksum"),
        keep_git_dir: f.bool("keep-git-dir"),
        sources,
        dest: dest.clone(),
        json,
    })
}

fn run(flag_words: &[String], args: &str, line: &RawLine) -> std::result::Result<Run, ErrorKind> {
    let f = flags::parse(
        flag_words,
        &[
            ("mount", FlagType::Strings),
            ("network", FlagType::String),
            ("security", FlagType::String),
        ],
    )?;
    let bad = |flag: &'static str, value: &str, reason: &str| ErrorKind::BadFlagValue {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
    };
    for (name, value) in &f.values {
        match *name {
            "network" if !matches!(value.as_str(), "default" | "none" | "host") => {
                return Err(bad("network", value, "must be default, none or host"));
            }
            "security" if !matches!(value.as_str(), "sandbox" | "insecure") => {
                return Err(bad("security", value, "must be sandbox or insecure"));
            }
            "mount" if value.is_empty() => return Err(bad("mount", value, "empty mount")),
            _ => {}
        }
    }
    if args.is_empty() && line.heredocs.is_empty() {
        return Err(ErrorKind::AtLeastOne("RUN"));
    }
    Ok(Run {
        flags: f
            .values
            .into_iter()
            .map(|(n, v)| Flag {
                name: n.to_string(),
                value: v,
            })
            .collect(),
        command: command(args)?,
        heredocs: line.heredocs.clone(),
    })
}

fn healthcheck(flag_words: &[String], args: &str) -> std::result::Result<Healthcheck, ErrorKind> {
    let (typ, rest) = match args.split_once(char::is_whitespace) {
        Some((t, r)) => (t, r.trim_start()),
        None => (args, ""),
    };
    if typ.is_empty() {
        return Err(ErrorKind::AtLeastOne("HEALTHCHECK"));
    }
    let typ = typ.to_uppercase();
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err(ErrorKind::HealthNoneArgs);
        }
        return Ok(Healthcheck {
            test: vec!["NONE".into()],
            ..Healthcheck::default()
        });
    }
    if typ != "CMD" {
        return Err(ErrorKind::HealthType(typ));
    }
    // Flags are read for CMD only: BuildKit ignores them with NONE.
    let f = flags::parse(
        flag_words,
        &[
            ("interval", FlagType::String),
            ("timeout", FlagType::String),
            ("start-period", FlagType::String),
            ("start-interval", FlagType::String),
            ("retries", FlagType::String),
        ],
    )?;
    let test = match command(rest)? {
        Form::Exec(l) if l.is_empty() => return Err(ErrorKind::HealthNoCommand),
        Form::Exec(l) => std::iter::once("CMD".to_string()).chain(l).collect(),
        Form::Shell(s) => vec!["CMD-SHELL".to_string(), s],
    };
    let retries = match f.string("retries").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => {
            let bad = |reason: &str| ErrorKind::BadFlagValue {
                flag: "retries",
                value: v.clone(),
                reason: reason.to_string(),
            };
            let n: i64 = v.parse().map_err(|_| bad("not an integer"))?;
            if n < 0 {
                return Err(bad("cannot be negative"));
            }
            Some(
                u32::try_from(n)
                    .ok()
                    .filter(|n| i32::try_from(*n).is_ok())
                    .ok_or_else(|| bad("out of range"))?,
            )
        }
    };
    Ok(Healthcheck {
        test,
        interval: durations(&f, "interval")?,
        timeout: durations(&f, "timeout")?,
        start_period: durations(&f, "start-period")?,
        start_interval: durations(&f, "start-interval")?,
        retries,
    })
}

fn one(kw: &'static str, args: &str) -> std::result::Result<String, ErrorKind> {
    if args.is_empty() {
        return Err(ErrorKind::ExactlyOne(kw));
    }
    Ok(args.to_string())
}

fn no_flags(flag_words: &[String]) -> std::result::Result<(), ErrorKind> {
    flags::parse(flag_words, &[]).map(|_| ())
}

pub(crate) fn parse_line(line: &RawLine, escape: char, location: Location) -> Result<Parsed> {
    let original = line.text.trim();
    let cols = Columns {
        text: &line.text,
        base: location.column,
        first_len: line.first_len + (line.text.len() - line.text.trim_start().len()),
    };
    let (cmd, rest) = match original.find(is_ws) {
        Some(i) => (&original[..i], original[i..].trim_start_matches(is_ws)),
        None => (original, ""),
    };
    let (flag_words, args) = extract_flags(rest);
    let args = args.trim();
    let at_args = |k: ErrorKind| (cols.of(args), k);
    let at_flags = |k: ErrorKind| (cols.of(rest), k);
    let at_cmd = |k: ErrorKind| (location.column, k);
    let upper = cmd.to_ascii_uppercase();
    let kind = match upper.as_str() {
        "FROM" => {
            let f =
                flags::parse(&flag_words, &[("platform", FlagType::String)]).map_err(at_flags)?;
            let words = fields(args);
            let name = stage_name(&words).map_err(at_args)?;
            return Ok(Parsed::From(Stage {
                location,
                original: original.to_string(),
                image: words.first().cloned().unwrap_or_default(),
                name,
                platform: f.string("platform"),
                instructions: Vec::new(),
            }));
        }
        "RUN" => Kind::Run(run(&flag_words, args, line).map_err(|k| match k {
            ErrorKind::AtLeastOne(_) => at_cmd(k),
            ErrorKind::NotStringArray => at_args(k),
            k => at_flags(k),
        })?),
        "CMD" | "ENTRYPOINT" => {
            no_flags(&flag_words).map_err(at_flags)?;
            let form = command(args).map_err(at_args)?;
            if upper == "CMD" {
                Kind::Cmd(form)
            } else {
                Kind::Entrypoint(form)
            }
        }
        "COPY" | "ADD" => {
            let kw = if upper == "COPY" { "COPY" } else { "ADD" };
            let c = copy(kw, &flag_words, args, line).map_err(|k| match k {
                ErrorKind::UnknownFlag(_)
                | ErrorKind::DuplicateFlag(_)
                | ErrorKind::MissingFlagValue(_)
                | ErrorKind::NotBool(..)
                | ErrorKind::FlagNotDashed(_) => at_flags(k),
                k => at_args(k),
            })?;
            if kw == "COPY" {
                Kind::Copy(c)
            } else {
                Kind::Add(c)
            }
        }
        "ENV" | "LABEL" => {
            no_flags(&flag_words).map_err(at_flags)?;
            let kw = if upper == "ENV" { "ENV" } else { "LABEL" };
            let pairs = name_vals(args, kw, escape).map_err(at_args)?;
            if kw == "ENV" {
                Kind::Env(pairs)
            } else {
                Kind::Label(pairs)
            }
        }
        "ARG" => {
            no_flags(&flag_words).map_err(at_flags)?;
            let words = quoted_words(args, escape);
            if words.is_empty() {
                return Err(at_cmd(ErrorKind::AtLeastOne("ARG")));
            }
            let mut defs = Vec::with_capacity(words.len());
            for w in words {
                let (name, default) = match w.split_once('=') {
                    Some((n, d)) => (n.to_string(), Some(d.to_string())),
                    None => (w, None),
                };
                if name.is_empty() {
                    return Err(at_args(ErrorKind::BlankName("ARG")));
                }
                defs.push(ArgDef { name, default });
            }
            Kind::Arg(defs)
        }
        "EXPOSE" => {
            no_flags(&flag_words).map_err(at_flags)?;
            let ports = fields(args);
            if ports.is_empty() {
                return Err(at_cmd(ErrorKind::AtLeastOne("EXPOSE")));
            }
            Kind::Expose(ports)
        }
        "USER" | "WORKDIR" | "STOPSIGNAL" | "MAINTAINER" => {
            no_flags(&flag_words).map_err(at_flags)?;
            let kw = KEYWORDS
                .iter()
                .find(|k| **k == upper)
                .copied()
                .unwrap_or("USER");
            let v = one(kw, args).map_err(at_cmd)?;
            match kw {
                "USER" => Kind::User(v),
                "WORKDIR" => Kind::Workdir(v),
                "STOPSIGNAL" => Kind::StopSignal(v),
                _ => Kind::Maintainer(v),
            }
        }
        "VOLUME" => {
            no_flags(&flag_words).map_err(at_flags)?;
            let (vols, json) = list(args).map_err(at_args)?;
            if vols.is_empty() {
                return Err(at_cmd(ErrorKind::AtLeastOne("VOLUME")));
            }
            if json && vols.iter().any(|v| v.trim().is_empty()) {
                return Err(at_args(ErrorKind::EmptyVolume));
            }
            Kind::Volume(vols)
        }
        "HEALTHCHECK" => {
            Kind::Healthcheck(healthcheck(&flag_words, args).map_err(|k| match k {
                ErrorKind::AtLeastOne(_) => at_cmd(k),
                ErrorKind::BadFlagValue { .. }
                | ErrorKind::UnknownFlag(_)
                | ErrorKind::DuplicateFlag(_)
                | ErrorKind::MissingFlagValue(_)
                | ErrorKind::FlagNotDashed(_) => at_flags(k),
                k => at_args(k),
            })?)
        }
        "SHELL" => {
            no_flags(&flag_words).map_err(at_flags)?;
            match json_array(args).map_err(at_args)? {
                Some(l) if !l.is_empty() => Kind::Shell(l),
                Some(_) => return Err(at_cmd(ErrorKind::AtLeastOne("SHELL"))),
                None if args.is_empty() => return Err(at_cmd(ErrorKind::AtLeastOne("SHELL"))),
                None => return Err(at_args(ErrorKind::NotJson("SHELL"))),
            }
        }
        "ONBUILD" => {
            no_flags(&flag_words).map_err(at_flags)?;
            let trigger = args
                .split(is_ws)
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            match trigger.as_str() {
                "" => return Err(at_cmd(ErrorKind::AtLeastOne("ONBUILD"))),
                "ONBUILD" => return Err(at_args(ErrorKind::OnbuildChain)),
                "FROM" | "MAINTAINER" => return Err(at_args(ErrorKind::OnbuildTrigger(trigger))),
                _ => {}
            }
            let offset = line.text.find(args).unwrap_or(0);
            let consumed = line.text[..offset].chars().count();
            let inner_line = RawLine {
                line: line.line,
                column: cols.of(args),
                end_line: line.end_line,
                text: args.to_string(),
                first_len: cols.first_len.saturating_sub(consumed),
                heredocs: line.heredocs.clone(),
            };
            let inner_loc = Location {
                column: inner_line.column,
                ..location
            };
            match parse_line(&inner_line, escape, inner_loc)? {
                Parsed::Instruction(i) => Kind::Onbuild(Box::new(i)),
                Parsed::From(_) => return Err(at_args(ErrorKind::OnbuildTrigger("FROM".into()))),
            }
        }
        _ => {
            return Err(at_cmd(ErrorKind::UnknownInstruction {
                word: cmd.chars().take(64).collect(),
                suggest: suggest(cmd),
            }));
        }
    };
    Ok(Parsed::Instruction(Instruction {
        location,
        original: original.to_string(),
        kind,
    }))
}
