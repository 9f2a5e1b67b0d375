//! `--change 'CMD ["/bin/sh"]'`-style edits of an image config (`import -c`, `commit -c`),
//! as Docker's builder applies them: the instructions CMD, ENTRYPOINT, ENV, EXPOSE,
//! HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR, with variables of
//! the config's environment expanded where a Dockerfile expands them (ENV, EXPOSE, LABEL,
//! STOPSIGNAL, USER, VOLUME, WORKDIR).

mod health;
mod words;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Applies `changes` in order to `cfg`, the `config` object of an image config (`Cmd`,
/// `Env`, ...). An ENTRYPOINT clears the Cmd unless a CMD among the changes set it, as in
/// a Dockerfile. Nothing is changed when one of them is refused.
pub fn apply_changes(cfg: &mut Map<String, Value>, changes: &[String]) -> Result<()> {
    let mut out = cfg.clone();
    let mut cmd_set = false;
    for change in changes {
        let lines = instructions(change);
        if lines.is_empty() {
            return Err(Error::invalid(
                format!("change {change:?}"),
                "file with no instructions",
            ));
        }
        for line in lines {
            apply_one(&mut out, &line, &mut cmd_set)
                .map_err(|why| Error::invalid(format!("change {:?}", line.trim()), why))?;
        }
    }
    *cfg = out;
    Ok(())
}

/// Applies one change (see [`apply_changes`]).
pub fn apply_change(cfg: &mut Map<String, Value>, change: &str) -> Result<()> {
    apply_changes(cfg, &[change.to_owned()])
}

/// The instructions of one change: lines joined where one ends in a backslash, blank
/// lines and comments left out.
fn instructions(change: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in change.lines() {
        if cur.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(line);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The object at `key`, made one when it is missing or null.
fn object<'a>(
    cfg: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Map<String, Value>, String> {
    let v = cfg.entry(key).or_insert_with(|| json!({}));
    if v.is_null() {
        *v = json!({});
    }
    v.as_object_mut()
        .ok_or_else(|| format!("{key} is not an object"))
}

/// The list at `key`, made one when it is missing or null.
fn list<'a>(cfg: &'a mut Map<String, Value>, key: &str) -> Result<&'a mut Vec<Value>, String> {
    let v = cfg.entry(key).or_insert_with(|| json!([]));
    if v.is_null() {
        *v = json!([]);
    }
    v.as_array_mut()
        .ok_or_else(|| format!("{key} is not a list"))
}

/// The command of CMD or ENTRYPOINT: the exec form, or the shell form run by the config's
/// Shell (default `/bin/sh -c`).
fn command(cfg: &Map<String, Value>, instr: &str, rest: &str) -> Result<Vec<String>, String> {
    if let Some(args) = words::json_array(rest)? {
        return Ok(args);
    }
    if rest.is_empty() {
        return Err(format!("{instr} requires a command"));
    }
    let mut shell = strings(cfg.get("Shell"));
    if shell.is_empty() {
        shell = vec!["/bin/sh".into(), "-c".into()];
    }
    shell.push(rest.to_owned());
    Ok(shell)
}

/// `k=v k2="v 2"`, or the legacy `k value with spaces`, processed against `env`.
fn name_values(instr: &str, rest: &str, env: &[String]) -> Result<Vec<(String, String)>, String> {
    let raw = words::split_raw(rest)?;
    let Some(first) = raw.first() else {
        return Err(format!("{instr} requires at least one argument"));
    };
    if !first.contains('=') {
        let Some((k, v)) = rest.split_once(char::is_whitespace) else {
            return Err(format!("{instr} must have two arguments"));
        };
        return Ok(vec![(
            words::process(k, env)?,
            words::process(v.trim(), env)?,
        )]);
    }
    raw.iter()
        .map(|w| {
            let (k, v) = w.split_once('=').ok_or_else(|| {
                format!("Syntax error - can't find = in {w:?}. Must be of the form: name=value")
            })?;
            if k.is_empty() {
                return Err(format!("{instr} names can not be blank"));
            }
            Ok((words::process(k, env)?, words::process(v, env)?))
        })
        .collect()
}

/// The words of `rest`, each processed against `env`.
fn processed(rest: &str, env: &[String]) -> Result<Vec<String>, String> {
    words::split_raw(rest)?
        .iter()
        .map(|w| words::process(w, env))
        .collect()
}

fn apply_one(cfg: &mut Map<String, Value>, line: &str, cmd_set: &mut bool) -> Result<(), String> {
    let line = line.trim();
    let (instr, rest) = match line.split_once(char::is_whitespace) {
        Some((i, r)) => (i, r.trim()),
        None => (line, ""),
    };
    let upper = instr.to_ascii_uppercase();
    let env = strings(cfg.get("Env"));
    let one = |what: &str| -> Result<String, String> {
        if rest.is_empty() {
            return Err(format!("{what} requires exactly one argument"));
        }
        words::process(rest, &env)
    };
    match upper.as_str() {
        "CMD" => {
            cfg.insert("Cmd".into(), json!(command(cfg, "CMD", rest)?));
            *cmd_set = true;
        }
        "ENTRYPOINT" => {
            cfg.insert(
                "Entrypoint".into(),
                json!(command(cfg, "ENTRYPOINT", rest)?),
            );
            if !*cmd_set {
                cfg.remove("Cmd");
            }
        }
        "ENV" => {
            let pairs = name_values("ENV", rest, &env)?;
            let arr = list(cfg, "Env")?;
            for (k, v) in pairs {
                let prefix = format!("{k}=");
                let entry = json!(format!("{k}={v}"));
                match arr
                    .iter_mut()
                    .find(|e| e.as_str().is_some_and(|s| s.starts_with(&prefix) || s == k))
                {
                    Some(e) => *e = entry,
                    None => arr.push(entry),
                }
            }
        }
        "LABEL" => {
            let pairs = name_values("LABEL", rest, &env)?;
            let m = object(cfg, "Labels")?;
            for (k, v) in pairs {
                m.insert(k, json!(v));
            }
        }
        "EXPOSE" => {
            let ports = processed(rest, &env)?;
            if ports.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            let mut specs = Vec::new();
            for p in &ports {
                specs.extend(port_specs(p)?);
            }
            let m = object(cfg, "ExposedPorts")?;
            for s in specs {
                m.insert(s, json!({}));
            }
        }
        "VOLUME" => {
            let vols = match words::json_array(rest)? {
                Some(v) => v,
                None => processed(rest, &env)?,
            };
            if vols.is_empty() {
                return Err("VOLUME requires at least one argument".into());
            }
            if vols.iter().any(|v| v.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            let m = object(cfg, "Volumes")?;
            for v in vols {
                m.insert(v, json!({}));
            }
        }
        "USER" => {
            let user = one("USER")?;
            cfg.insert("User".into(), json!(user));
        }
        "WORKDIR" => {
            let dir = one("WORKDIR")?;
            let base = cfg
                .get("WorkingDir")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("/");
            cfg.insert("WorkingDir".into(), json!(join_clean(base, &dir)));
        }
        "STOPSIGNAL" => {
            let sig = one("STOPSIGNAL")?;
            if berth_runtime::util::parse_signal(&sig).is_none() {
                return Err(format!("Invalid signal: {sig}"));
            }
            cfg.insert("StopSignal".into(), json!(sig));
        }
        "HEALTHCHECK" => {
            cfg.insert("Healthcheck".into(), health::healthcheck(rest)?);
        }
        "ONBUILD" => {
            let trigger = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match trigger.as_str() {
                "" => return Err("ONBUILD requires at least one argument".into()),
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
                }
                "FROM" | "MAINTAINER" => {
                    return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
                }
                "ADD" | "ARG" | "CMD" | "COPY" | "ENTRYPOINT" | "ENV" | "EXPOSE"
                | "HEALTHCHECK" | "LABEL" | "RUN" | "SHELL" | "STOPSIGNAL" | "USER" | "VOLUME"
                | "WORKDIR" => {}
                _ => return Err(format!("unknown instruction: {trigger}")),
            }
            list(cfg, "OnBuild")?.push(json!(rest));
        }
        "" => return Err("file with no instructions".into()),
        _ => {
            return Err(format!(
                "{} is not a valid change command (valid: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)",
                instr.to_ascii_lowercase()
            ));
        }
    }
    Ok(())
}

/// `PORT[-END][/PROTO]` as the ports it names ("80/tcp", ...), as Docker's EXPOSE reads it.
fn port_specs(p: &str) -> Result<Vec<String>, String> {
    let (port, proto) = match p.rsplit_once('/') {
        Some((a, b)) => (a, b.to_ascii_lowercase()),
        None => (p, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("Invalid proto: {proto}"));
    }
    // An ip:host:container spec names the container's port last.
    let port = port.rsplit(':').next().unwrap_or(port);
    let num = |s: &str| s.parse::<u16>().ok();
    let (start, end) = match port.split_once('-') {
        Some((a, b)) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => (a, b),
            _ => return Err(format!("Invalid range specified for containerPort: {port}")),
        },
        None => match num(port) {
            Some(n) => (n, n),
            None => return Err(format!("Invalid containerPort: {port}")),
        },
    };
    Ok((start..=end).map(|n| format!("{n}/{proto}")).collect())
}

/// `dir` relative to `base` (unless absolute), with `.` and `..` resolved as Go's
/// `path.Join` does.
fn join_clean(base: &str, dir: &str) -> String {
    let joined = if dir.starts_with('/') {
        dir.to_owned()
    } else {
        format!("{base}/{dir}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Docker's `merge` after a commit's changes: what the changes left empty is taken from
/// the container's own configuration `orig` (its user, ports, environment, labels,
/// command, health check fields, working directory, volumes and stop signal).
pub fn merge_commit(new: &mut Map<String, Value>, orig: &Map<String, Value>) {
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        Some(_) => false,
    };
    for key in ["User", "WorkingDir", "StopSignal"] {
        if empty(new.get(key))
            && let Some(v) = orig.get(key)
        {
            new.insert(key.into(), v.clone());
        }
    }
    for key in ["ExposedPorts", "Volumes", "Labels"] {
        if let Some(Value::Object(o)) = orig.get(key) {
            let n = new.entry(key).or_insert_with(|| json!({}));
            if !n.is_object() {
                *n = json!({});
            }
            if let Some(n) = n.as_object_mut() {
                for (k, v) in o {
                    n.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    let mut env = strings(new.get("Env"));
    for e in strings(orig.get("Env")) {
        let k = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        if !env
            .iter()
            .any(|n| n.split_once('=').map_or(n.as_str(), |(k, _)| k) == k)
        {
            env.push(e.clone());
        }
    }
    if !env.is_empty() {
        new.insert("Env".into(), json!(env));
    }
    if empty(new.get("Entrypoint")) {
        if empty(new.get("Cmd"))
            && let Some(c) = orig.get("Cmd")
        {
            new.insert("Cmd".into(), c.clone());
        }
        if matches!(new.get("Entrypoint"), None | Some(Value::Null))
            && let Some(e) = orig.get("Entrypoint")
        {
            new.insert("Entrypoint".into(), e.clone());
        }
    }
    if let Some(Value::Object(o)) = orig.get("Healthcheck") {
        match new.get_mut("Healthcheck") {
            Some(Value::Object(n)) => {
                for key in [
                    "Test",
                    "Interval",
                    "Timeout",
                    "StartPeriod",
                    "StartInterval",
                    "Retries",
                ] {
                    let unset = match n.get(key) {
                        None | Some(Value::Null) => true,
                        Some(Value::Array(a)) => a.is_empty(),
                        Some(v) => v.as_u64() == Some(0),
                    };
                    if unset && let Some(v) = o.get(key) {
                        n.insert(key.into(), v.clone());
                    }
                }
            }
            _ => {
                new.insert("Healthcheck".into(), Value::Object(o.clone()));
            }
        }
    }
}

/// Drops what is null or empty, as Docker's image config leaves it out.
pub fn prune_empty(cfg: &mut Map<String, Value>) {
    cfg.retain(|_, v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    });
}

#[cfg(test)]
mod tests;
