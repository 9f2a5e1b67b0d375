//! The flags of `berth create` and `berth run` (docker's names), and their conversion into a
//! container configuration.

use anyhow::{Context, Result, bail};
use berth_engine::config::{ContainerConfig, HealthConfig, LogConfig, NetworkMode};
use clap::Args;

use berth_engine::config::parse;

#[derive(Args, Debug, Clone, Default)]
pub struct CreateArgs {
    /// Print help (-h is --hostname, as in docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set meta data on a container.
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels.
    #[arg(long = "label-file")]
    pub label_file: Vec<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name.
    #[arg(long)]
    pub domainname: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Mount a tmpfs directory.
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Bind mount a volume.
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container.
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s).
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Disable OOM Killer.
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000).
    #[arg(long = "oom-score-adj", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Ulimit options.
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Restart policy to apply when a container exits.
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Security Options.
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container.
    #[arg(long)]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list.
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,
    /// Add additional groups to join.
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<u32>,
    /// Command to run to check health.
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries")]
    pub health_retries: Option<u32>,
    /// Start period for the container to initialize before counting retries (ms|s|m|h).
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h).
    #[arg(long = "health-start-interval")]
    pub health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Logging driver for the container (json-file only).
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=, max-file=).
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Connect a container to a network: none, host or container:<name|id>.
    #[arg(long = "network", alias = "net", default_value = "none")]
    pub network: String,
    /// Publish a container's port(s) to the host.
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Expose a port or a range of ports.
    #[arg(long)]
    pub expose: Vec<String>,
    /// Pull image before running ("always", "missing", "never").
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    /// Size of /dev/shm.
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Sysctl options.
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// IPC mode to use ("", "private", "shareable", "host", "container:<name|id>").
    #[arg(long)]
    pub ipc: Option<String>,
    /// PID namespace to use ("host" or "container:<name|id>").
    #[arg(long)]
    pub pid: Option<String>,
    /// UTS namespace to use ("host").
    #[arg(long)]
    pub uts: Option<String>,
    #[command(flatten)]
    pub resources: super::resource_args::ResourceArgs,
    #[command(flatten)]
    pub more: super::args_more::MoreArgs,
    /// The image, then the command and its arguments (one list, so that options after the
    /// image, as in `run busybox -c`, belong to the command).
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub image_and_command: Vec<String>,
}

impl CreateArgs {
    pub fn image(&self) -> &str {
        self.image_and_command
            .first()
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn command(&self) -> &[String] {
        self.image_and_command.get(1..).unwrap_or_default()
    }

    /// The configuration these flags describe (the image is resolved by the engine).
    /// The container's config; `log_defaults` come from berth.toml.
    pub fn to_config(&self, log_defaults: &LogConfig) -> Result<ContainerConfig> {
        // A flag berth does not know ends up first in the image-and-command list.
        if self.image().starts_with('-') {
            bail!("unknown flag: {}", self.image());
        }
        let mut c = ContainerConfig {
            image: self.image().to_string(),
            tty: self.tty,
            open_stdin: self.interactive,
            working_dir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            domainname: self.domainname.clone(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            no_healthcheck: self.no_healthcheck,
            group_add: self.group_add.clone(),
            ..Default::default()
        };
        if !self.command().is_empty() {
            c.cmd = Some(self.command().to_vec());
        }
        if let Some(e) = &self.entrypoint {
            c.entrypoint = Some(if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            });
        }
        for f in &self.env_file {
            c.env.extend(super::envfile::env_file(f)?);
        }
        for e in &self.env {
            if let Some(e) = super::envfile::env_entry(e)? {
                c.env.push(e);
            }
        }
        let mut labels = Vec::new();
        for f in &self.label_file {
            labels.extend(super::envfile::env_file(f)?);
        }
        labels.extend(self.label.iter().cloned());
        c.labels = parse::labels(&labels);
        if let Some(h) = &self.hostname
            && (h.len() > 63 || h.is_empty() || h.starts_with('-'))
        {
            bail!("invalid hostname {h:?}");
        }
        if let Some(s) = &self.stop_signal
            && berth_runtime::util::parse_signal(s).is_none()
        {
            bail!("invalid signal: {s}");
        }
        self.health(&mut c)?;
        let h = &mut c.host;
        h.auto_remove = self.rm;
        h.read_only_rootfs = self.read_only;
        h.privileged = self.privileged;
        h.init = self.init;
        h.extra_hosts = self.add_host.clone();
        h.dns = self.dns.clone();
        h.dns_search = self.dns_search.clone();
        h.dns_options = self.dns_option.clone();
        h.cap_add = self.cap_add.clone();
        h.cap_drop = self.cap_drop.clone();
        h.device_cgroup_rules = self.device_cgroup_rule.clone();
        h.volumes_from = self.volumes_from.clone();
        h.oom_score_adj = self.oom_score_adj;
        if let Some(v) = self.oom_score_adj
            && !(-1000..=1000).contains(&v)
        {
            bail!("invalid value {v}, range for oom score adj is [-1000, 1000]");
        }
        for v in &self.volume {
            h.mounts.push(parse::volume_flag(v)?);
        }
        for m in &self.mount {
            h.mounts.push(parse::mount_flag(m)?);
        }
        for t in &self.tmpfs {
            h.mounts.push(parse::tmpfs_flag(t)?);
        }
        let mut seen = std::collections::HashSet::new();
        for m in &h.mounts {
            if !seen.insert(m.target.clone()) {
                bail!("duplicate mount point: {}", m.target);
            }
        }
        for d in &self.device {
            h.devices.push(parse::device(d)?);
        }
        h.security = parse::security_opts(&self.security_opt)?;
        h.restart_policy = parse::restart(&self.restart)?;
        if self.rm && h.restart_policy.name != berth_engine::config::RestartName::No {
            bail!("conflicting options: cannot specify both --restart and --rm");
        }
        h.network_mode = match self.network.as_str() {
            "none" | "" => NetworkMode::None,
            "host" => NetworkMode::Host,
            n if n.starts_with("container:") => {
                NetworkMode::Container(n["container:".len()..].to_string())
            }
            "bridge" | "default" => bail!(
                "bridge networks are not available in this version of berth yet: use --network none, host or container:<name>"
            ),
            other => bail!("network {other} not found"),
        };
        if !self.publish.is_empty() {
            bail!(
                "publishing ports (-p) needs bridge networks, which this version of berth does not have yet"
            );
        }
        c.exposed_ports = self
            .expose
            .iter()
            .map(|p| {
                if p.contains('/') {
                    p.clone()
                } else {
                    format!("{p}/tcp")
                }
            })
            .collect();
        let h = &mut c.host;
        let mut log = log_defaults.clone();
        match self.log_driver.as_deref() {
            None | Some("json-file") => {}
            Some("none") => {
                if !self.log_opt.is_empty() {
                    bail!("the none logging driver takes no --log-opt");
                }
                log.disabled = true;
            }
            Some(other) => {
                bail!("logging driver {other:?} is not supported (json-file or none)")
            }
        }
        for o in &self.log_opt {
            let (k, v) = o
                .split_once('=')
                .with_context(|| format!("invalid --log-opt {o:?}"))?;
            match k {
                "max-size" => {
                    log.max_size = if v == "-1" {
                        0
                    } else {
                        parse::size("--log-opt max-size", v)?
                    }
                }
                "max-file" => {
                    log.max_file = v
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .with_context(|| format!("invalid max-file {v:?}"))?
                }
                _ => bail!("unknown log opt '{k}' for json-file log driver"),
            }
        }
        h.log = log;
        if let Some(s) = &self.shm_size {
            h.shm_size = Some(parse::size("--shm-size", s)?);
        }
        for s in &self.sysctl {
            let (k, v) = s
                .split_once('=')
                .with_context(|| format!("invalid --sysctl {s:?}: use key=value"))?;
            h.sysctls.insert(k.to_string(), v.to_string());
        }
        let mode = |flag: &str, v: &Option<String>, container_ok: bool| -> Result<String> {
            match v.as_deref() {
                None | Some("") | Some("private") | Some("shareable") => Ok(String::new()),
                Some("host") => Ok("host".into()),
                Some(m) if container_ok && m.starts_with("container:") && m.len() > 10 => {
                    Ok(m.to_string())
                }
                Some(m) => bail!("--{flag}: invalid mode {m:?}"),
            }
        };
        h.ipc_mode = mode("ipc", &self.ipc, true)?;
        h.pid_mode = mode("pid", &self.pid, true)?;
        h.uts_mode = mode("uts", &self.uts, false)?;
        let r = &mut h.resources;
        self.resources.apply_to(r)?;
        r.oom_kill_disable = self.oom_kill_disable;
        for u in &self.ulimit {
            r.ulimits.push(parse::ulimit(u)?);
        }
        self.more.apply(&mut c)?;
        Ok(c)
    }

    fn health(&self, c: &mut ContainerConfig) -> Result<()> {
        let any = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some()
            || self.health_start_interval.is_some();
        if !any {
            return Ok(());
        }
        if self.no_healthcheck {
            bail!("--no-healthcheck conflicts with --health-* options");
        }
        let d = |flag: &str, v: &Option<String>| -> Result<u64> {
            match v {
                None => Ok(0),
                Some(s) => {
                    let ns = parse::duration_ns(flag, s)?;
                    if ns != 0 && ns < 1_000_000 {
                        bail!("{flag} cannot be less than 1ms");
                    }
                    Ok(ns)
                }
            }
        };
        c.healthcheck = Some(HealthConfig {
            test: match &self.health_cmd {
                Some(cmd) => vec!["CMD-SHELL".into(), cmd.clone()],
                None => vec![],
            },
            interval_ns: d("--health-interval", &self.health_interval)?,
            timeout_ns: d("--health-timeout", &self.health_timeout)?,
            start_period_ns: d("--health-start-period", &self.health_start_period)?,
            start_interval_ns: d("--health-start-interval", &self.health_start_interval)?,
            retries: self.health_retries.unwrap_or(0),
        });
        Ok(())
    }
}
