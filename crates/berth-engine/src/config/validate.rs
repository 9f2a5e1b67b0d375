//! The semantic checks of a container configuration, whoever built it (the CLI's flags, the
//! API's JSON, compose): each value on its own was parsed by `config::parse`; here is what
//! they mean together (`--rm` with `--restart`, two mounts on one path, a health check with
//! `--no-healthcheck`...) and the ranges Docker refuses at create. `Engine::create` runs
//! [`prepare`] before it touches anything, so a bad configuration leaves nothing behind.
//! Messages are Docker's (`Error::InvalidValue`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{ContainerConfig, HealthConfig, LogConfig, Mount, MountKind, RestartName};
use crate::error::{Error, Result};

/// Everything `Engine::create` checks before it looks at the image: [`validate`], then
/// the limits this host's cgroups cannot apply are dropped (Docker's warnings, returned),
/// then what a start would refuse (`spec::check`: namespace modes, capabilities, devices,
/// resources, sysctls, mounts, the seccomp and AppArmor profiles, the cgroup path).
pub fn prepare(c: &mut ContainerConfig) -> Result<Vec<String>> {
    validate(c)?;
    let warnings = crate::spec::discard_unsupported(c);
    crate::spec::check(c)?;
    Ok(warnings)
}

/// Docker's create-time checks that do not depend on the host: environment entries,
/// hostname, working directory, stop signal, health check, OOM score, mounts, restart
/// policy with `--rm`, log rotation and `--cpus`.
pub fn validate(c: &ContainerConfig) -> Result<()> {
    for e in &c.env {
        env_var(e)?;
    }
    for h in &c.host.extra_hosts {
        crate::config::parse::extra_host(h)?;
    }
    if let Some(h) = &c.hostname
        && (h.len() > 63 || h.is_empty() || h.starts_with('-'))
    {
        bail!("invalid hostname {h:?}");
    }
    if let Some(w) = c.working_dir.as_deref()
        && !w.is_empty()
        && !w.starts_with('/')
    {
        bail!("the working directory '{w}' is invalid, it needs to be an absolute path");
    }
    if let Some(s) = &c.stop_signal
        && berth_runtime::util::parse_signal(s).is_none()
    {
        bail!("invalid signal: {s}");
    }
    if let Some(h) = &c.healthcheck {
        healthcheck(h, c.no_healthcheck)?;
    }
    oom_score_adj(c.host.oom_score_adj)?;
    mounts(&c.host.mounts)?;
    if c.host.auto_remove && c.host.restart_policy.name != RestartName::No {
        bail!("conflicting options: cannot specify both --restart and --rm");
    }
    log(&c.host.log)?;
    if let Some(n) = c.host.resources.nano_cpus
        && !(0..=1_000_000_000_000_000).contains(&n)
    {
        return Err(cpus_out_of_range(n as f64 / 1e9));
    }
    Ok(())
}

/// An environment entry: NAME=value (or a bare NAME), the name not empty.
pub fn env_var(e: &str) -> Result<()> {
    if e.is_empty() || e.starts_with('=') {
        bail!("invalid environment variable: {e:?}");
    }
    Ok(())
}

/// `--oom-score-adj`: -1000 to 1000.
pub fn oom_score_adj(v: Option<i32>) -> Result<()> {
    match v {
        Some(v) if !(-1000..=1000).contains(&v) => {
            bail!("invalid value {v}, range for oom score adj is [-1000, 1000]")
        }
        _ => Ok(()),
    }
}

/// The error for a `--cpus` value out of range.
pub(crate) fn cpus_out_of_range(cpus: f64) -> Error {
    Error::InvalidValue(format!(
        "invalid argument {cpus} for \"--cpus\" flag: range is 0 to the number of CPUs"
    ))
}

/// A `--mount` bind source must exist (a `-v` one is made when missing, as Docker does);
/// checked at create and again at each start.
pub fn bind_source_exists(m: &Mount) -> Result<()> {
    if m.kind == MountKind::Bind && m.from_mount_flag && !Path::new(&m.source).exists() {
        bail!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            m.source
        );
    }
    Ok(())
}

fn healthcheck(h: &HealthConfig, disabled: bool) -> Result<()> {
    if disabled {
        bail!("--no-healthcheck conflicts with --health-* options");
    }
    for (flag, ns) in [
        ("--health-interval", h.interval_ns),
        ("--health-timeout", h.timeout_ns),
        ("--health-start-period", h.start_period_ns),
        ("--health-start-interval", h.start_interval_ns),
    ] {
        if ns != 0 && ns < 1_000_000 {
            bail!("{flag} cannot be less than 1ms");
        }
    }
    Ok(())
}

fn mounts(ms: &[Mount]) -> Result<()> {
    for m in ms {
        if !m.target.starts_with('/') || m.target == "/" {
            bail!(
                "invalid mount config: invalid mount path '{}' mount path must be absolute",
                m.target
            );
        }
        match m.kind {
            MountKind::Bind => {
                if m.source.is_empty() {
                    bail!("invalid mount config for type \"bind\": field Source must not be empty");
                }
                if !Path::new(&m.source).is_absolute() {
                    return Err(Error::invalid(
                        format!("bind source {:?}", m.source),
                        "must be an absolute path",
                    ));
                }
                bind_source_exists(m)?;
            }
            MountKind::Volume if !m.source.is_empty() => {
                crate::volumes::validate_name(&m.source)?;
            }
            MountKind::Volume => {}
            MountKind::Tmpfs => {
                if !m.source.is_empty() {
                    bail!("invalid mount config for type \"tmpfs\": field Source must be empty");
                }
            }
        }
    }
    // "/x", "/x/" and "//x" are one mount point.
    let mut seen = HashSet::new();
    for m in ms {
        if !seen.insert(Path::new(&m.target).components().collect::<PathBuf>()) {
            bail!("duplicate mount point: {}", m.target);
        }
    }
    Ok(())
}

fn log(l: &LogConfig) -> Result<()> {
    if !l.disabled && l.max_file == 0 {
        bail!("invalid max-file \"{}\"", l.max_file);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HostConfig, RestartPolicy};

    fn err(c: &ContainerConfig) -> String {
        validate(c).unwrap_err().to_string()
    }

    fn with_host(f: impl FnOnce(&mut HostConfig)) -> ContainerConfig {
        let mut c = ContainerConfig::default();
        f(&mut c.host);
        c
    }

    #[test]
    fn a_plain_config_is_valid() {
        validate(&ContainerConfig::default()).unwrap();
        let c = ContainerConfig {
            env: vec!["A=1".into(), "B".into()],
            hostname: Some("web-1".into()),
            working_dir: Some("/srv".into()),
            stop_signal: Some("SIGUSR1".into()),
            healthcheck: Some(HealthConfig {
                test: vec!["CMD".into(), "true".into()],
                interval_ns: 1_000_000,
                ..Default::default()
            }),
            ..Default::default()
        };
        validate(&c).unwrap();
    }

    #[test]
    fn process_settings() {
        let c = |f: fn(&mut ContainerConfig)| {
            let mut c = ContainerConfig::default();
            f(&mut c);
            err(&c)
        };
        assert_eq!(
            c(|c| c.env = vec!["=x".into()]),
            "invalid environment variable: \"=x\""
        );
        assert_eq!(
            c(|c| c.hostname = Some("-bad".into())),
            "invalid hostname \"-bad\""
        );
        assert_eq!(
            c(|c| c.hostname = Some(String::new())),
            "invalid hostname \"\""
        );
        assert!(c(|c| c.hostname = Some("h".repeat(64))).starts_with("invalid hostname"));
        assert_eq!(
            c(|c| c.working_dir = Some("srv".into())),
            "the working directory 'srv' is invalid, it needs to be an absolute path"
        );
        assert_eq!(
            c(|c| c.stop_signal = Some("SIGNOPE".into())),
            "invalid signal: SIGNOPE"
        );
    }

    #[test]
    fn health_checks() {
        let hc = |interval_ns, timeout_ns| HealthConfig {
            interval_ns,
            timeout_ns,
            ..Default::default()
        };
        let c = ContainerConfig {
            healthcheck: Some(hc(0, 0)),
            no_healthcheck: true,
            ..Default::default()
        };
        assert_eq!(
            err(&c),
            "--no-healthcheck conflicts with --health-* options"
        );
        let c = ContainerConfig {
            healthcheck: Some(hc(1_000_000, 999)),
            ..Default::default()
        };
        assert_eq!(err(&c), "--health-timeout cannot be less than 1ms");
        let c = ContainerConfig {
            healthcheck: Some(hc(500, 0)),
            ..Default::default()
        };
        assert_eq!(err(&c), "--health-interval cannot be less than 1ms");
        // --no-healthcheck alone is fine.
        let c = ContainerConfig {
            no_healthcheck: true,
            ..Default::default()
        };
        validate(&c).unwrap();
    }

    #[test]
    fn host_settings() {
        assert_eq!(
            err(&with_host(|h| h.oom_score_adj = Some(1001))),
            "invalid value 1001, range for oom score adj is [-1000, 1000]"
        );
        validate(&with_host(|h| h.oom_score_adj = Some(-1000))).unwrap();
        assert_eq!(
            err(&with_host(|h| {
                h.auto_remove = true;
                h.restart_policy = RestartPolicy {
                    name: RestartName::Always,
                    max_retries: 0,
                };
            })),
            "conflicting options: cannot specify both --restart and --rm"
        );
        validate(&with_host(|h| h.auto_remove = true)).unwrap();
        assert_eq!(
            err(&with_host(|h| h.log.max_file = 0)),
            "invalid max-file \"0\""
        );
        validate(&with_host(|h| {
            h.log.max_file = 0;
            h.log.disabled = true;
        }))
        .unwrap();
        assert_eq!(
            err(&with_host(|h| h.resources.nano_cpus = Some(-1_000_000_000))),
            "invalid argument -1 for \"--cpus\" flag: range is 0 to the number of CPUs"
        );
        assert!(
            err(&with_host(
                |h| h.resources.nano_cpus = Some(2_000_000_000_000_000)
            ))
            .starts_with("invalid argument 2000000 for \"--cpus\"")
        );
        validate(&with_host(|h| h.resources.nano_cpus = Some(1_500_000_000))).unwrap();
    }

    #[test]
    fn mount_checks() {
        let m = |kind, source: &str, target: &str| Mount {
            kind,
            source: source.into(),
            target: target.into(),
            ..Default::default()
        };
        let one = |x: Mount| err(&with_host(|h| h.mounts = vec![x]));
        assert_eq!(
            one(m(MountKind::Volume, "", "rel")),
            "invalid mount config: invalid mount path 'rel' mount path must be absolute"
        );
        assert!(one(m(MountKind::Tmpfs, "", "/")).contains("mount path must be absolute"));
        assert_eq!(
            one(m(MountKind::Bind, "", "/x")),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert!(one(m(MountKind::Bind, "./x", "/x")).contains("must be an absolute path"));
        assert!(one(m(MountKind::Volume, "../evil", "/x")).contains("volume name"));
        assert_eq!(
            one(m(MountKind::Tmpfs, "x", "/x")),
            "invalid mount config for type \"tmpfs\": field Source must be empty"
        );
        // A missing bind source: made for -v, refused for --mount.
        let missing = m(MountKind::Bind, "/no/such/dir/berth", "/x");
        validate(&with_host(|h| h.mounts = vec![missing.clone()])).unwrap();
        assert_eq!(
            one(Mount {
                from_mount_flag: true,
                ..missing
            }),
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir/berth"
        );
        let d = tempfile::tempdir().unwrap();
        let src = d.path().to_string_lossy();
        validate(&with_host(|h| {
            h.mounts = vec![Mount {
                from_mount_flag: true,
                ..m(MountKind::Bind, &src, "/x")
            }]
        }))
        .unwrap();
        let dup = with_host(|h| {
            h.mounts = vec![
                m(MountKind::Volume, "data", "/data"),
                m(MountKind::Tmpfs, "", "/data/"),
            ]
        });
        assert_eq!(err(&dup), "duplicate mount point: /data/");
    }

    #[test]
    fn create_refuses_a_bad_config_before_it_changes_anything() {
        let d = tempfile::tempdir().unwrap();
        let e = crate::Engine::open(d.path(), None).unwrap();
        let mut config = with_host(|h| {
            h.auto_remove = true;
            h.restart_policy.name = RestartName::Always;
        });
        config.image = "no-such-image".into();
        let err = e
            .create(crate::CreateRequest {
                name: Some("bad".into()),
                config,
                start_next: false,
            })
            .unwrap_err();
        // The configuration is refused before the image is looked up.
        assert_eq!(
            err.to_string(),
            "conflicting options: cannot specify both --restart and --rm"
        );
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
        assert!(e.containers().unwrap().is_empty());
    }

    #[test]
    fn prepare_runs_the_spec_checks_too() {
        let mut c = with_host(|h| h.cgroup_parent = "a/../b".into());
        assert!(
            prepare(&mut c)
                .unwrap_err()
                .to_string()
                .contains("not a valid cgroup path")
        );
        let mut c = with_host(|h| h.oom_score_adj = Some(5000));
        assert!(
            prepare(&mut c)
                .unwrap_err()
                .to_string()
                .contains("range for oom")
        );
        prepare(&mut ContainerConfig::default()).unwrap();
    }
}
