//! The container's process as Docker derives it from the image config and the flags:
//! arguments (ENTRYPOINT/CMD), environment, working directory, user, stop signal, health
//! check and the image's volumes.

use serde_json::Value;

use crate::config::{ContainerConfig, HealthConfig};
use crate::{Error, Result};

/// PATH when neither the image nor the flags set one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The "config" object of an image config document (or the document itself when it has
/// none).
pub(crate) fn image_cfg(image_config: &Value) -> &Value {
    match image_config.get("config") {
        Some(c) if c.is_object() => c,
        _ => image_config,
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::Array(a) => Some(
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// The process arguments by Docker's rules: a non-empty `--entrypoint` replaces the image's
/// ENTRYPOINT and drops its CMD (arguments after the image name still apply); an empty one
/// clears the ENTRYPOINT and keeps the CMD; arguments after the image name replace the CMD.
pub fn process_args(config: &ContainerConfig, image_config: &Value) -> Result<Vec<String>> {
    let img = image_cfg(image_config);
    let user_ep = config.entrypoint.as_ref();
    let user_cmd = config.cmd.as_ref().filter(|c| !c.is_empty());
    let (entrypoint, cmd) = match user_ep {
        Some(ep) if !ep.is_empty() => (ep.clone(), user_cmd.cloned().unwrap_or_default()),
        Some(_) => (
            Vec::new(),
            user_cmd
                .cloned()
                .or_else(|| strings(img.get("Cmd")))
                .unwrap_or_default(),
        ),
        None => (
            strings(img.get("Entrypoint")).unwrap_or_default(),
            user_cmd
                .cloned()
                .or_else(|| strings(img.get("Cmd")))
                .unwrap_or_default(),
        ),
    };
    let mut args = entrypoint;
    args.extend(cmd);
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::invalid("command", "no command specified"));
    }
    Ok(args)
}

/// A container's config merged with its image's, as Docker stores (and `inspect` shows) it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effective {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
}

/// Merges the image's Entrypoint, Cmd, Env, WorkingDir and User into the container's, by the
/// rules of `process_args` and `environment` (without the run-time PATH/HOSTNAME/TERM).
pub fn effective(config: &ContainerConfig, image_config: &Value) -> Effective {
    let img = image_cfg(image_config);
    let user_cmd = config.cmd.clone().filter(|c| !c.is_empty());
    let (entrypoint, cmd) = match &config.entrypoint {
        Some(ep) if !ep.is_empty() => (Some(ep.clone()), user_cmd),
        Some(_) => (None, user_cmd.or_else(|| strings(img.get("Cmd")))),
        None => (
            strings(img.get("Entrypoint")),
            user_cmd.or_else(|| strings(img.get("Cmd"))),
        ),
    };
    let mut env = strings(img.get("Env")).unwrap_or_default();
    replace_or_append(&mut env, &config.env);
    let pick = |mine: &Option<String>, k: &str| {
        mine.clone()
            .filter(|s| !s.is_empty())
            .or_else(|| img.get(k).and_then(Value::as_str).map(String::from))
            .unwrap_or_default()
    };
    Effective {
        entrypoint,
        cmd,
        env,
        working_dir: pick(&config.working_dir, "WorkingDir"),
        user: pick(&config.user, "User"),
    }
}

fn key(e: &str) -> &str {
    e.split_once('=').map_or(e, |(k, _)| k)
}

/// Replaces entries of `base` whose NAME appears in `over`, appends the others; a bare NAME
/// in `over` removes it (Docker's ReplaceOrAppendEnvValues).
fn replace_or_append(base: &mut Vec<String>, over: &[String]) {
    for e in over {
        let k = key(e);
        if !e.contains('=') {
            base.retain(|b| key(b) != k);
            continue;
        }
        match base.iter_mut().find(|b| key(b) == k) {
            Some(b) => *b = e.clone(),
            None => base.push(e.clone()),
        }
    }
}

/// The environment: PATH (default unless set), HOSTNAME, TERM=xterm with a terminal, then
/// the flags' variables and the image's variables that the flags do not set.
pub(crate) fn environment(
    config: &ContainerConfig,
    image_config: &Value,
    hostname: &str,
) -> Vec<String> {
    let img = image_cfg(image_config);
    // The container's Env: the flags' first, then the image's not overridden.
    let mut merged: Vec<String> = config.env.clone();
    for ie in strings(img.get("Env")).unwrap_or_default() {
        if !config.env.iter().any(|ue| key(ue) == key(&ie)) {
            merged.push(ie);
        }
    }
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if config.tty {
        env.push("TERM=xterm".into());
    }
    replace_or_append(&mut env, &merged);
    env.retain(|e| !key(e).is_empty());
    env
}

/// The working directory: `-w`, else the image's WorkingDir, else "/"; it must be absolute.
pub(crate) fn working_dir(config: &ContainerConfig, image_config: &Value) -> Result<String> {
    let img = image_cfg(image_config);
    let wd = config
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| string(img.get("WorkingDir")))
        .unwrap_or_else(|| "/".into());
    if !wd.starts_with('/') {
        return Err(Error::invalid(
            "working directory",
            format!("the working directory '{wd}' is invalid, it needs to be an absolute path"),
        ));
    }
    Ok(clean_path(&wd))
}

/// Lexically cleans an absolute path ("/a/./b//c/../" → "/a/b").
pub(crate) fn clean_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// The user: `-u`, else the image's User, else "" (root).
pub(crate) fn user(config: &ContainerConfig, image_config: &Value) -> String {
    config
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| string(image_cfg(image_config).get("User")))
        .unwrap_or_default()
}

/// The stop signal the flags or the image set (None: neither, SIGTERM then), which is
/// what Docker records and `inspect` shows.
pub fn stop_signal_set(config: &ContainerConfig, image_config: &Value) -> Option<String> {
    config
        .stop_signal
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| string(image_cfg(image_config).get("StopSignal")))
}

/// The health check as the flags and the image set it (each field the flags leave unset
/// taken from the image), without defaults, as Docker records it (and `inspect` shows
/// it): `["NONE"]` for `--no-healthcheck`, None when neither sets one. The monitor's
/// checker applies Docker's defaults (interval and timeout 30 s, 3 retries) and takes a
/// test of `["NONE"]` as none.
pub fn healthcheck_set(config: &ContainerConfig, image_config: &Value) -> Option<HealthConfig> {
    if config.no_healthcheck {
        return Some(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        });
    }
    let img = image_cfg(image_config)
        .get("Healthcheck")
        .filter(|h| h.is_object());
    let from_image = img.map(|h| HealthConfig {
        test: strings(h.get("Test")).unwrap_or_default(),
        interval_ns: h.get("Interval").and_then(Value::as_u64).unwrap_or(0),
        timeout_ns: h.get("Timeout").and_then(Value::as_u64).unwrap_or(0),
        start_period_ns: h.get("StartPeriod").and_then(Value::as_u64).unwrap_or(0),
        start_interval_ns: h.get("StartInterval").and_then(Value::as_u64).unwrap_or(0),
        retries: h
            .get("Retries")
            .and_then(Value::as_u64)
            // Clamped, as it always was: "retry for ever" in practice.
            .map_or(0, |r| u32::try_from(r).unwrap_or(u32::MAX)),
    });
    match (config.healthcheck.clone(), from_image) {
        (Some(mut user), Some(image)) => {
            if user.test.is_empty() {
                user.test = image.test;
            }
            if user.interval_ns == 0 {
                user.interval_ns = image.interval_ns;
            }
            if user.timeout_ns == 0 {
                user.timeout_ns = image.timeout_ns;
            }
            if user.start_period_ns == 0 {
                user.start_period_ns = image.start_period_ns;
            }
            if user.start_interval_ns == 0 {
                user.start_interval_ns = image.start_interval_ns;
            }
            if user.retries == 0 {
                user.retries = image.retries;
            }
            Some(user)
        }
        (Some(user), None) => Some(user),
        (None, Some(image)) => Some(image),
        (None, None) => None,
    }
}

/// The image's VOLUME paths, sorted.
pub fn image_volumes(image_config: &Value) -> Vec<String> {
    let mut v: Vec<String> = match image_cfg(image_config).get("Volumes") {
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn img() -> Value {
        json!({"architecture": "amd64", "config": {
            "Env": ["PATH=/img/bin", "A=image", "B=image"],
            "Entrypoint": ["/entry", "-x"],
            "Cmd": ["serve", "--port=80"],
            "WorkingDir": "/srv",
            "User": "www",
            "StopSignal": "SIGQUIT",
            "Volumes": {"/data": {}, "/cache": {}},
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64, "Retries": 7}
        }})
    }

    fn cfg() -> ContainerConfig {
        ContainerConfig::default()
    }

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entrypoint_and_cmd_rules() {
        let i = img();
        let mut c = cfg();
        assert_eq!(
            process_args(&c, &i).unwrap(),
            v(&["/entry", "-x", "serve", "--port=80"])
        );
        c.cmd = Some(v(&["sh"]));
        assert_eq!(process_args(&c, &i).unwrap(), v(&["/entry", "-x", "sh"]));
        // --entrypoint drops the image's CMD...
        c.cmd = None;
        c.entrypoint = Some(v(&["/bin/ls"]));
        assert_eq!(process_args(&c, &i).unwrap(), v(&["/bin/ls"]));
        // ...unless arguments are given.
        c.cmd = Some(v(&["-l"]));
        assert_eq!(process_args(&c, &i).unwrap(), v(&["/bin/ls", "-l"]));
        // --entrypoint "" clears it and keeps the CMD.
        c.entrypoint = Some(vec![]);
        c.cmd = None;
        assert_eq!(process_args(&c, &i).unwrap(), v(&["serve", "--port=80"]));
        let e = process_args(&c, &json!({"config": {"Entrypoint": ["/e"]}})).unwrap_err();
        assert!(e.to_string().contains("no command specified"), "{e}");
        let e = process_args(&cfg(), &json!({"config": null})).unwrap_err();
        assert!(e.to_string().contains("no command specified"), "{e}");
        // A string CMD/ENTRYPOINT counts as one argument.
        assert_eq!(
            process_args(&cfg(), &json!({"config": {"Cmd": "top"}})).unwrap(),
            v(&["top"])
        );
    }

    #[test]
    fn environment_merge() {
        let i = img();
        let mut c = cfg();
        c.env = v(&["B=flag", "C=flag"]);
        c.tty = true;
        assert_eq!(
            environment(&c, &i, "h1"),
            v(&[
                "PATH=/img/bin",
                "HOSTNAME=h1",
                "TERM=xterm",
                "B=flag",
                "C=flag",
                "A=image"
            ])
        );
        // No PATH anywhere: the default; TERM only with a terminal.
        let c = cfg();
        assert_eq!(
            environment(&c, &json!({}), "h"),
            v(&[&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=h"])
        );
        // The flags may override PATH, HOSTNAME and TERM; a bare NAME unsets.
        let mut c = cfg();
        c.tty = true;
        c.env = v(&["HOSTNAME=mine", "TERM=vt100", "PATH=/p", "A"]);
        assert_eq!(
            environment(&c, &i, "h"),
            v(&["PATH=/p", "HOSTNAME=mine", "TERM=vt100", "B=image"])
        );
    }

    #[test]
    fn cwd_user_signal() {
        let i = img();
        let mut c = cfg();
        assert_eq!(working_dir(&c, &i).unwrap(), "/srv");
        assert_eq!(working_dir(&c, &json!({})).unwrap(), "/");
        c.working_dir = Some("/a/./b/../c/".into());
        assert_eq!(working_dir(&c, &i).unwrap(), "/a/c");
        c.working_dir = Some("rel".into());
        let e = working_dir(&c, &i).unwrap_err().to_string();
        assert!(e.contains("needs to be an absolute path"), "{e}");
        assert_eq!(user(&c, &i), "www");
        c.user = Some("1:2".into());
        assert_eq!(user(&c, &i), "1:2");
        assert_eq!(user(&cfg(), &json!({})), "");
        assert_eq!(stop_signal_set(&cfg(), &i).as_deref(), Some("SIGQUIT"));
        assert_eq!(stop_signal_set(&cfg(), &json!({})), None);
        let mut c = cfg();
        c.stop_signal = Some("SIGUSR1".into());
        assert_eq!(stop_signal_set(&c, &i).as_deref(), Some("SIGUSR1"));
    }

    #[test]
    fn healthchecks() {
        let i = img();
        // The image's, without defaults (the checker applies them).
        let h = healthcheck_set(&cfg(), &i).unwrap();
        assert_eq!(h.test, v(&["CMD-SHELL", "true"]));
        assert_eq!(
            (h.interval_ns, h.timeout_ns, h.retries),
            (5_000_000_000, 0, 7)
        );
        let mut c = cfg();
        c.healthcheck = Some(HealthConfig {
            test: vec![],
            timeout_ns: 1,
            ..Default::default()
        });
        let h = healthcheck_set(&c, &i).unwrap();
        assert_eq!(h.test, v(&["CMD-SHELL", "true"]));
        assert_eq!(
            (h.interval_ns, h.timeout_ns, h.retries),
            (5_000_000_000, 1, 7)
        );
        c.no_healthcheck = true;
        assert_eq!(healthcheck_set(&c, &i).unwrap().test, v(&["NONE"]));
        assert!(healthcheck_set(&cfg(), &json!({})).is_none());
    }

    #[test]
    fn volumes() {
        assert_eq!(image_volumes(&img()), v(&["/cache", "/data"]));
        assert!(image_volumes(&json!({"config": {"Volumes": null}})).is_empty());
    }
}
