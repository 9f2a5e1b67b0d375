//! What the container's process gets: the health check flags, the attached streams (`-a`),
//! the exposed ports (`--expose`) and the runtime annotations (`--annotation`).

use std::collections::BTreeMap;

use super::{duration_ns, int};
use crate::config::HealthConfig;
use crate::error::Result;

/// The `--health-*` flags as given (`None`: not given).
#[derive(Debug, Clone, Copy, Default)]
pub struct HealthFlags<'a> {
    pub cmd: Option<&'a str>,
    pub interval: Option<&'a str>,
    pub timeout: Option<&'a str>,
    pub retries: Option<&'a str>,
    pub start_period: Option<&'a str>,
    pub start_interval: Option<&'a str>,
}

/// The health check the flags describe, over the image's (unset fields are zero and taken
/// from the image at create); `None` when no flag is given. `--health-cmd` is a shell
/// command (CMD-SHELL).
pub fn healthcheck(f: &HealthFlags) -> Result<Option<HealthConfig>> {
    let given = [
        f.cmd,
        f.interval,
        f.timeout,
        f.retries,
        f.start_period,
        f.start_interval,
    ];
    if given.iter().all(Option::is_none) {
        return Ok(None);
    }
    let d = |flag: &str, v: Option<&str>| v.map_or(Ok(0), |s| duration_ns(flag, s));
    let retries = match f.retries {
        None => 0,
        Some(s) => {
            if int::<i64>("--health-retries", s)? < 0 {
                bail!("--health-retries cannot be negative");
            }
            int::<u32>("--health-retries", s)?
        }
    };
    Ok(Some(HealthConfig {
        test: match f.cmd {
            Some(cmd) => vec!["CMD-SHELL".into(), cmd.to_string()],
            None => vec![],
        },
        interval_ns: d("--health-interval", f.interval)?,
        timeout_ns: d("--health-timeout", f.timeout)?,
        start_period_ns: d("--health-start-period", f.start_period)?,
        start_interval_ns: d("--health-start-interval", f.start_interval)?,
        retries,
    }))
}

/// `-a stdin|stdout|stderr` (any case, repeatable): the streams an attached client gets, as
/// (stdin, stdout, stderr). Without `-a`: stdout and stderr, and stdin with `-i`
/// (`open_stdin`).
pub fn attach_streams(items: &[String], open_stdin: bool) -> Result<(bool, bool, bool)> {
    if items.is_empty() {
        return Ok((open_stdin, true, true));
    }
    let mut streams = (false, false, false);
    for s in items {
        match s.to_ascii_lowercase().as_str() {
            "stdin" => streams.0 = true,
            "stdout" => streams.1 = true,
            "stderr" => streams.2 = true,
            _ => bail!(
                "invalid argument \"{s}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
            ),
        }
    }
    Ok(streams)
}

/// `--expose PORT[/PROTO]` (tcp when no protocol is given).
pub fn exposed_ports(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|p| {
            if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            }
        })
        .collect()
}

/// `--annotation key=value` (the key must not be empty).
pub fn annotations(items: &[String]) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("invalid --annotation {a:?}: use key=value"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_flags() {
        assert_eq!(healthcheck(&HealthFlags::default()).unwrap(), None);
        let h = healthcheck(&HealthFlags {
            cmd: Some("true"),
            interval: Some("2s"),
            retries: Some("4"),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "true"]);
        assert_eq!(
            (h.interval_ns, h.timeout_ns, h.retries),
            (2_000_000_000, 0, 4)
        );
        // One flag is enough: the rest comes from the image.
        let h = healthcheck(&HealthFlags {
            start_period: Some("1m"),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
        assert!(h.test.is_empty());
        assert_eq!(h.start_period_ns, 60_000_000_000);
        let one = super::super::with::<HealthFlags<'static>>;
        let bad = [
            (
                one(|f| f.retries = Some("-1")),
                "--health-retries cannot be negative",
            ),
            (
                one(|f| f.retries = Some("9999999999")),
                "value out of range",
            ),
            (
                one(|f| f.timeout = Some("soon")),
                "\"--health-timeout\" flag: time: invalid duration",
            ),
        ];
        for (f, want) in bad {
            let e = healthcheck(&f).unwrap_err().to_string();
            assert!(e.contains(want), "{f:?}: {e}");
        }
    }

    #[test]
    fn attach() {
        assert_eq!(attach_streams(&[], false).unwrap(), (false, true, true));
        assert_eq!(attach_streams(&[], true).unwrap(), (true, true, true));
        assert_eq!(
            attach_streams(&["stdin".into(), "STDOUT".into()], false).unwrap(),
            (true, true, false)
        );
        assert_eq!(
            attach_streams(&["stdlog".into()], false)
                .unwrap_err()
                .to_string(),
            "invalid argument \"stdlog\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
        );
    }

    #[test]
    fn ports_and_annotations() {
        assert_eq!(
            exposed_ports(&["80".into(), "53/udp".into()]),
            ["80/tcp", "53/udp"]
        );
        let a = annotations(&["com.example.team=infra".into(), "empty=".into()]).unwrap();
        assert_eq!(
            (a["com.example.team"].as_str(), a["empty"].as_str()),
            ("infra", "")
        );
        for bad in ["novalue", "=v"] {
            assert_eq!(
                annotations(&[bad.into()]).unwrap_err().to_string(),
                format!("invalid --annotation {bad:?}: use key=value")
            );
        }
    }
}
