//! `--change 'CMD ["/bin/sh"]'`-style edits of an image config (docker import/commit).

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Apply one Dockerfile-like instruction to the `config` object of an image config
/// (the object with `Cmd`, `Env`, ...).
pub fn apply_change(cfg: &mut Map<String, Value>, change: &str) -> Result<()> {
    let change = change.trim();
    let (instr, rest) = match change.split_once(char::is_whitespace) {
        Some((i, r)) => (i, r.trim()),
        None => (change, ""),
    };
    let bad = |why: &str| Error::invalid(format!("change {change:?}"), why);
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            cfg.insert("Cmd".into(), json!(exec_or_shell(rest).map_err(&bad)?));
        }
        "ENTRYPOINT" => {
            cfg.insert(
                "Entrypoint".into(),
                json!(exec_or_shell(rest).map_err(&bad)?),
            );
        }
        "ENV" => {
            let pairs = key_values(rest).map_err(&bad)?;
            let env = cfg.entry("Env").or_insert_with(|| json!([]));
            let Some(arr) = env.as_array_mut() else {
                return Err(bad("Env is not a list"));
            };
            for (k, v) in pairs {
                let prefix = format!("{k}=");
                arr.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
                arr.push(json!(format!("{k}={v}")));
            }
        }
        "LABEL" => {
            let pairs = key_values(rest).map_err(&bad)?;
            let labels = cfg.entry("Labels").or_insert_with(|| json!({}));
            if labels.is_null() {
                *labels = json!({});
            }
            let Some(m) = labels.as_object_mut() else {
                return Err(bad("Labels is not an object"));
            };
            for (k, v) in pairs {
                m.insert(k, json!(v));
            }
        }
        "EXPOSE" => {
            if rest.is_empty() {
                return Err(bad("EXPOSE needs a port"));
            }
            let ports = cfg.entry("ExposedPorts").or_insert_with(|| json!({}));
            if ports.is_null() {
                *ports = json!({});
            }
            let Some(m) = ports.as_object_mut() else {
                return Err(bad("ExposedPorts is not an object"));
            };
            for p in rest.split_whitespace() {
                m.insert(port_spec(p).map_err(&bad)?, json!({}));
            }
        }
        "VOLUME" => {
            let vols: Vec<String> = if rest.starts_with('[') {
                serde_json::from_str(rest)
                    .map_err(|_| bad("VOLUME needs a JSON list of strings"))?
            } else {
                rest.split_whitespace().map(str::to_owned).collect()
            };
            if vols.is_empty() || vols.iter().any(|v| v.is_empty()) {
                return Err(bad("VOLUME needs a path"));
            }
            let m = cfg.entry("Volumes").or_insert_with(|| json!({}));
            if m.is_null() {
                *m = json!({});
            }
            let Some(m) = m.as_object_mut() else {
                return Err(bad("Volumes is not an object"));
            };
            for v in vols {
                m.insert(v, json!({}));
            }
        }
        "USER" | "WORKDIR" | "STOPSIGNAL" => {
            if rest.is_empty() {
                return Err(bad("needs a value"));
            }
            let key = match instr.to_ascii_uppercase().as_str() {
                "USER" => "User",
                "WORKDIR" => "WorkingDir",
                _ => "StopSignal",
            };
            cfg.insert(key.into(), json!(rest));
        }
        "" => return Err(bad("empty change")),
        other => {
            return Err(bad(&format!(
                "{other} is not a valid change command (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL)"
            )));
        }
    }
    Ok(())
}

fn exec_or_shell(rest: &str) -> std::result::Result<Vec<String>, &'static str> {
    if rest.starts_with('[')
        && let Ok(v) = serde_json::from_str::<Vec<String>>(rest)
    {
        return Ok(v);
    }
    if rest.is_empty() {
        return Err("needs a command");
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), rest.into()])
}

fn port_spec(p: &str) -> std::result::Result<String, &'static str> {
    let (port, proto) = match p.split_once('/') {
        Some((a, b)) => (a, b.to_ascii_lowercase()),
        None => (p, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err("protocol must be tcp, udp or sctp");
    }
    let ok = |s: &str| s.parse::<u16>().is_ok_and(|n| n > 0);
    let valid = match port.split_once('-') {
        Some((a, b)) => ok(a) && ok(b),
        None => ok(port),
    };
    if !valid {
        return Err("invalid port");
    }
    Ok(format!("{port}/{proto}"))
}

/// `k=v k2="v 2"` or the legacy `k v` form.
fn key_values(s: &str) -> std::result::Result<Vec<(String, String)>, &'static str> {
    let words = split_words(s)?;
    if words.is_empty() {
        return Err("needs key=value");
    }
    if !words[0].contains('=') {
        // legacy: KEY value with spaces
        let (k, v) = s.split_once(char::is_whitespace).ok_or("needs key=value")?;
        return Ok(vec![(k.to_owned(), v.trim().to_owned())]);
    }
    let mut out = Vec::new();
    for w in words {
        let (k, v) = w.split_once('=').ok_or("needs key=value")?;
        if k.is_empty() {
            return Err("empty key");
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// Split on whitespace, honouring double/single quotes and backslash escapes.
fn split_words(s: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                has = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    has = true;
                }
            }
            (_, c) => {
                cur.push(c);
                has = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote");
    }
    if has {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(changes: &[&str]) -> Result<Value> {
        let mut m = Map::new();
        for c in changes {
            apply_change(&mut m, c)?;
        }
        Ok(Value::Object(m))
    }

    #[test]
    fn all_instructions() {
        let v = run(&[
            r#"CMD ["/bin/sh"]"#,
            "ENTRYPOINT echo hi",
            "ENV A=1 B=\"two words\"",
            "ENV A=3",
            "ENV LEGACY some value",
            "LABEL org.x=y \"k 2\"=v",
            "EXPOSE 80 53/udp 1000-1010",
            "USER nobody",
            "WORKDIR /tmp",
            "VOLUME /data /logs",
            r#"VOLUME ["/j"]"#,
            "STOPSIGNAL SIGTERM",
        ])
        .unwrap();
        assert_eq!(v["Cmd"], json!(["/bin/sh"]));
        assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(v["Env"], json!(["B=two words", "A=3", "LEGACY=some value"]));
        assert_eq!(v["Labels"], json!({"org.x": "y", "k 2": "v"}));
        assert_eq!(
            v["ExposedPorts"],
            json!({"80/tcp": {}, "53/udp": {}, "1000-1010/tcp": {}})
        );
        assert_eq!(v["User"], json!("nobody"));
        assert_eq!(v["WorkingDir"], json!("/tmp"));
        assert_eq!(v["Volumes"], json!({"/data": {}, "/logs": {}, "/j": {}}));
        assert_eq!(v["StopSignal"], json!("SIGTERM"));
    }

    #[test]
    fn refuses_bad() {
        for c in [
            "",
            "RUN echo",
            "FROM x",
            "CMD",
            "EXPOSE",
            "EXPOSE 0",
            "EXPOSE 70000",
            "EXPOSE 80/xyz",
            "ENV",
            "ENV =x",
            "LABEL \"unterminated=1",
            "USER",
            "VOLUME",
        ] {
            assert!(run(&[c]).is_err(), "{c:?}");
        }
    }
}
