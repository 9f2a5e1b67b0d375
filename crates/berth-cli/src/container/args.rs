//! The flags of `berth create` and `berth run` (docker's names), collected as strings, and
//! their mapping into a container configuration through the engine's parsers
//! (`berth_engine::config::parse`; `Engine::create` validates the result).

use anyhow::{Result, bail};
use berth_engine::config::parse::{self, HealthFlags};
use berth_engine::config::{ContainerConfig, HostConfig, LogConfig, Mount};
use clap::Args;

use super::envfile;

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
    pub oom_score_adj: Option<String>,
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
    #[arg(long = "stop-timeout", allow_hyphen_values = true)]
    pub stop_timeout: Option<String>,
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
    #[arg(long = "health-retries", allow_hyphen_values = true)]
    pub health_retries: Option<String>,
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
    /// Connect a container to a network (default: bridge; also none, host,
    /// container:<name|id> or a network's name); repeated: several networks (the first
    /// has the default route); long syntax name=NET,alias=A,ip=IP,mac-address=M.
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto];
    /// ranges; nftables DNAT on bridge networks, ignored with --network none or host)
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
    /// The image (NAME[:TAG], NAME@DIGEST or an ID), then the command to run and its
    /// arguments (default: the image's); options after the image belong to the command
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

    /// The configuration these flags describe (the image is resolved by the engine), with
    /// `log_defaults` from berth.toml (`Engine::settings`). Only what a client does is done
    /// here: the caller's environment, files and working directory are read (`envfile`);
    /// every value is parsed by the engine.
    pub fn to_config(&self, log_defaults: &LogConfig) -> Result<ContainerConfig> {
        // A flag berth does not know ends up first in the image-and-command list.
        if self.image().starts_with('-') {
            bail!("unknown flag: {}", self.image());
        }
        self.more.refuse_unsupported()?;
        let mut env = Vec::new();
        for f in &self.env_file {
            env.extend(envfile::env_file(f)?);
        }
        for e in &self.env {
            env.extend(envfile::env_entry(e)?);
        }
        let mut labels = Vec::new();
        for f in &self.label_file {
            labels.extend(envfile::env_file(f)?);
        }
        labels.extend(self.label.iter().cloned());
        let mut c = ContainerConfig {
            image: self.image().to_string(),
            // `--entrypoint ""` clears the image's.
            entrypoint: self.entrypoint.as_ref().map(|e| match e.as_str() {
                "" => vec![],
                e => vec![e.to_string()],
            }),
            cmd: (!self.command().is_empty()).then(|| self.command().to_vec()),
            env,
            working_dir: self.workdir.clone(),
            user: self.user.clone(),
            group_add: self.group_add.clone(),
            labels: parse::labels(&labels),
            hostname: self.hostname.clone(),
            domainname: self.domainname.clone(),
            tty: self.tty,
            open_stdin: self.interactive,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: parse::int_opt("--stop-timeout", self.stop_timeout.as_deref())?,
            healthcheck: parse::healthcheck(&HealthFlags {
                cmd: self.health_cmd.as_deref(),
                interval: self.health_interval.as_deref(),
                timeout: self.health_timeout.as_deref(),
                retries: self.health_retries.as_deref(),
                start_period: self.health_start_period.as_deref(),
                start_interval: self.health_start_interval.as_deref(),
            })?,
            no_healthcheck: self.no_healthcheck,
            exposed_ports: parse::exposed_ports(&self.expose),
            annotations: parse::annotations(&self.more.annotation)?,
            host: self.host_config(log_defaults)?,
            ..Default::default()
        };
        (c.attach_stdin, c.attach_stdout, c.attach_stderr) =
            parse::attach_streams(&self.more.attach, self.interactive)?;
        Ok(c)
    }

    fn host_config(&self, log_defaults: &LogConfig) -> Result<HostConfig> {
        let ns = |flag: &str, v: &Option<String>| {
            parse::namespace_mode(flag, v.as_deref().unwrap_or(""))
        };
        let more = &self.more;
        let nets = parse::networks(
            &self.network,
            &more.network_alias,
            more.ip.as_deref(),
            more.mac_address.as_deref(),
        )?;
        let network_mode = nets.mode.clone();
        // docker's client checks these while reading its flags (exit 125).
        for h in &self.add_host {
            parse::extra_host(h)?;
        }
        // docker's client refuses this before asking the daemon (exit 125).
        if !nets.aliases.is_empty()
            && match &network_mode {
                berth_engine::config::NetworkMode::Network(n) => n == "bridge" || n == "default",
                _ => true,
            }
        {
            anyhow::bail!("network-scoped aliases are only supported for user-defined networks");
        }
        Ok(HostConfig {
            mounts: self.mounts()?,
            volumes_from: self.volumes_from.clone(),
            network_mode,
            // create sets it when it resolves NetworkMode::Default.
            network_mode_default: false,
            ipv4_address: nets.ipv4_address,
            ipv6_address: match (nets.ipv6_address, &more.ip6) {
                (Some(_), Some(_)) => anyhow::bail!(
                    "conflicting options: cannot specify both --ip6 and per-network IPv6 address"
                ),
                (a, b) => a.or_else(|| b.clone()),
            },
            networks: nets.others,
            primary_detached: false,
            port_bindings: parse::port_bindings(&self.publish)?,
            publish_all_ports: more.publish_all,
            mac_address: nets.mac_address,
            network_aliases: nets.aliases,
            userns_mode: more.userns.clone().unwrap_or_default(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            extra_hosts: self.add_host.clone(),
            links: more.link.clone(),
            read_only_rootfs: self.read_only,
            privileged: self.privileged,
            cap_add: parse::capabilities(&self.cap_add),
            cap_drop: parse::capabilities(&self.cap_drop),
            security: parse::security_opts(&envfile::seccomp_profiles(&self.security_opt)?)?,
            devices: self
                .device
                .iter()
                .map(|d| parse::device(d))
                .collect::<Result<_, _>>()?,
            device_cgroup_rules: self.device_cgroup_rule.clone(),
            resources: more.resources(&self.resources, self.oom_kill_disable, &self.ulimit)?,
            restart_policy: parse::restart(&self.restart)?,
            auto_remove: self.rm,
            init: self.init,
            log: parse::log_config(self.log_driver.as_deref(), &self.log_opt, log_defaults)?,
            shm_size: self
                .shm_size
                .as_deref()
                .map(|s| parse::size("--shm-size", s))
                .transpose()?,
            sysctls: parse::sysctls(&self.sysctl)?,
            oom_score_adj: parse::int_opt("--oom-score-adj", self.oom_score_adj.as_deref())?,
            ipc_mode: ns("--ipc", &self.ipc)?,
            pid_mode: ns("--pid", &self.pid)?,
            uts_mode: ns("--uts", &self.uts)?,
            cgroupns_mode: parse::cgroupns_mode(more.cgroupns.as_deref().unwrap_or(""))?,
            cgroup_parent: more.cgroup_parent.clone().unwrap_or_default(),
        })
    }

    /// `-v`, `--mount` and `--tmpfs` in that order, relative bind sources made absolute.
    fn mounts(&self) -> Result<Vec<Mount>> {
        let mut v = Vec::new();
        for s in &self.volume {
            v.push(envfile::absolute_source(parse::volume_flag(s)?)?);
        }
        for s in &self.mount {
            v.push(envfile::absolute_source(parse::mount_flag(s)?)?);
        }
        for s in &self.tmpfs {
            v.push(parse::tmpfs_flag(s)?);
        }
        Ok(v)
    }
}
