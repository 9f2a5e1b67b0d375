//! OCI runtime spec generation: a container's configuration plus its image's config become
//! the `config.json` that berth-runtime runs, with Docker's semantics for every flag
//! (`docker run` on Linux with runc).
//!
//! [`build_spec`] is the entry point; the helpers it is made of are public where the engine
//! needs them on their own (the process arguments for `inspect`, the stop signal, the
//! health check, the image's volumes, the default seccomp profile).

mod blkio;
mod caps;
mod devices;
pub(crate) mod host;
mod init;
mod mount_opts;
mod mounts;
mod process;
mod resources;
mod seccomp;
mod seccomp_default;
mod user;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Linux, LinuxNamespace, LinuxNamespaceType, Process, Root, Spec, User as OciUser,
};
use serde_json::Value;

pub use init::install_init;
pub use mounts::{INIT_PATH, ResolvedMount};
pub use process::{effective, healthcheck_set, image_volumes, process_args, stop_signal_set};
pub use user::resolve_user;

use crate::config::{ContainerConfig, NetworkMode};
use crate::{Error, Result};
use host::Host;
use mounts::{MountPlan, Shm};

/// The default size of /dev/shm.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// Paths Docker masks in /proc and /sys.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only in /proc.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Everything a container's spec is made from.
#[derive(Debug, Clone)]
pub struct SpecInputs<'a> {
    /// The 64-hex container ID.
    pub id: &'a str,
    pub config: &'a ContainerConfig,
    /// The image's config document (with its "config" object).
    pub image_config: &'a Value,
    /// The mounted rootfs.
    pub rootfs: &'a Path,
    /// Holds "hosts", "hostname" and "resolv.conf" (each bind-mounted when present).
    pub container_dir: &'a Path,
    /// The config's mounts with host sources, plus anonymous volumes for the image's VOLUMEs.
    pub mounts: &'a [ResolvedMount],
    /// Cgroup path, e.g. "/berth/<id>".
    pub cgroups_path: &'a str,
    /// Host path of berth-init when `config.host.init` (see [`install_init`]).
    pub init_path: Option<&'a Path>,
    /// The network namespace to join for `NetworkMode::Container` (another container's)
    /// and `NetworkMode::Network` (the container's own, pinned with its endpoint in it).
    pub netns_path: Option<PathBuf>,
    /// The pid namespace to join for `--pid container:X`.
    pub pidns_path: Option<PathBuf>,
    /// The ipc namespace to join for `--ipc container:X`.
    pub ipcns_path: Option<PathBuf>,
}

/// How a namespace is provided.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ns {
    New,
    Host,
    Join(PathBuf),
}

fn ns_mode(
    flag: &str,
    what: &str,
    mode: &str,
    path: &Option<PathBuf>,
    can_join: bool,
) -> Result<Ns> {
    match mode {
        "" | "private" | "shareable" | "none" => Ok(Ns::New),
        "host" => Ok(Ns::Host),
        m if can_join && m.starts_with("container:") && m.len() > "container:".len() => {
            match path {
                Some(p) => Ok(Ns::Join(p.clone())),
                None => Err(Error::invalid(
                    flag,
                    format!("{m}: the other container's namespace path is missing"),
                )),
            }
        }
        m => Err(Error::invalid(flag, format!("invalid {what} mode: {m}"))),
    }
}

/// The mount points the runtime and the engine put over the image, for the snapshot's init
/// layer (so they are not changes of the container): Docker's init layer, plus berth-init.
pub fn init_layer_entries(cfg: &ContainerConfig) -> Vec<berth_image::InitEntry<'static>> {
    use berth_image::InitEntry::{Dir, EmptyExecutable, File, Symlink};
    let mut v = vec![
        // Docker's marker that scripts test to know they run in a container.
        EmptyExecutable(".dockerenv"),
        Dir("dev/pts"),
        Dir("dev/shm"),
        Dir("proc"),
        Dir("sys"),
        File("dev/console"),
        File("etc/hosts"),
        File("etc/hostname"),
        File("etc/resolv.conf"),
        Symlink("etc/mtab", "/proc/mounts"),
    ];
    if cfg.host.init {
        v.push(File(INIT_PATH.trim_start_matches('/')));
    }
    v
}

/// Docker's default cgroup namespace mode on this host: "private" where cgroup v2 is the
/// only hierarchy, "host" on v1 and hybrid hosts (where Docker's daemon uses the host's).
pub fn default_cgroupns() -> &'static str {
    if Host::get().cgroup_v2 {
        "private"
    } else {
        "host"
    }
}

fn cgroupns(mode: &str) -> Result<Ns> {
    match mode {
        "" | "private" => Ok(Ns::New),
        "host" => Ok(Ns::Host),
        m => Err(Error::invalid(
            "--cgroupns",
            format!("invalid cgroup namespace mode: {m}"),
        )),
    }
}

/// Drops the limits this host's cgroups cannot apply, as Docker does, and says so in
/// Docker's words (the warnings of a create).
pub fn discard_unsupported(cfg: &mut ContainerConfig) -> Vec<String> {
    discard_unsupported_on(cfg, Host::get())
}

fn discard_unsupported_on(cfg: &mut ContainerConfig, host: &Host) -> Vec<String> {
    let r = &mut cfg.host.resources;
    let mut warnings = Vec::new();
    if r.memory_swappiness.is_some_and(|s| s != -1) && !host.swappiness {
        r.memory_swappiness = None;
        warnings.push(
            "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded."
                .to_string(),
        );
    }
    if (r.cpu_rt_period.is_some_and(|p| p > 0) || r.cpu_rt_runtime.is_some_and(|v| v != 0))
        && !host.cpu_rt
    {
        r.cpu_rt_period = None;
        r.cpu_rt_runtime = None;
        warnings.push(
            "Your kernel does not support cgroup cpu real-time period or runtime. Real-time settings discarded."
                .to_string(),
        );
    }
    // (A weight outside 10-1000 is left for the range check to refuse, host or not.)
    if r.blkio_weight.is_some_and(|w| (10..=1000).contains(&w)) && !host.blkio_weight {
        r.blkio_weight = None;
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                .to_string(),
        );
    }
    if !r.blkio_weight_device.is_empty() && !host.blkio_weight_device {
        r.blkio_weight_device.clear();
        warnings.push(
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."
                .to_string(),
        );
    }
    if r.memory_swap.is_some_and(|s| s > 0) && !host.swap_limit {
        warnings.push(
            "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
                .to_string(),
        );
    }
    warnings
}

/// Checks, at create, what `build_spec` would refuse without needing the rootfs: namespace
/// modes, capabilities, devices, resources, rlimits, sysctls, mounts, the seccomp and
/// AppArmor profiles, the cgroup path. So a bad flag is an error of `create`, which then
/// changes nothing, rather than of every later start.
pub fn check(cfg: &ContainerConfig) -> Result<()> {
    let hc = &cfg.host;
    let host = Host::get();
    let joined = Some(PathBuf::from("/"));
    ns_mode("--pid", "PID", &hc.pid_mode, &joined, true)?;
    let ipc = ns_mode("--ipc", "IPC", &hc.ipc_mode, &joined, true)?;
    let uts = ns_mode("--uts", "UTS", &hc.uts_mode, &None, false)?;
    resources::sysctls(
        host,
        &hc.sysctls,
        &resources::NsKinds {
            new_net: matches!(
                hc.network_mode,
                NetworkMode::None | NetworkMode::Network(_) | NetworkMode::Default
            ),
            host_net: hc.network_mode == NetworkMode::Host,
            new_ipc: ipc == Ns::New,
        },
    )?;
    mounts::check(&hc.mounts)?;
    apparmor(host, cfg)?;
    if let Some(json) = hc.security.seccomp_profile.as_deref()
        && !(hc.privileged || hc.security.seccomp_unconfined)
    {
        seccomp::parse_profile(json)?;
    }
    if uts == Ns::Host && cfg.hostname.as_deref().is_some_and(|h| !h.is_empty()) {
        return Err(Error::invalid(
            "--hostname",
            "Conflicting options: hostname and the UTS mode",
        ));
    }
    cgroupns(&hc.cgroupns_mode)?;
    cgroups_path(&hc.cgroup_parent, "x")?;
    caps::capability_list(host, &hc.cap_add, &hc.cap_drop, hc.privileged)?;
    resources::rlimits(&hc.resources.ulimits)?;
    resources::oom_score_adj(hc.oom_score_adj)?;
    let (_, rules) = devices::devices(&hc.devices, &hc.device_cgroup_rules, hc.privileged)?;
    resources::resources(host, &hc.resources, rules)?;
    Ok(())
}

/// The cgroup limits of `r`, validated as at create (`update` applies them to a live
/// container); device rules are left out.
pub fn cgroup_resources(r: &crate::config::Resources) -> Result<oci_spec::runtime::LinuxResources> {
    let mut res = resources::resources(Host::get(), r, Vec::new())?;
    res.set_devices(None);
    Ok(res)
}

/// The container's cgroup path: `/<parent>/<id>`, the parent being `--cgroup-parent` or
/// "berth". The parent is a relative cgroup path below the hierarchy's root; `..` and
/// empty components are refused.
pub fn cgroups_path(parent: &str, id: &str) -> Result<String> {
    let parent = parent.trim_matches('/');
    if parent.is_empty() {
        return Ok(format!("/berth/{id}"));
    }
    if parent
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'))
    {
        return Err(Error::invalid(
            "--cgroup-parent",
            format!("{parent:?} is not a valid cgroup path"),
        ));
    }
    Ok(format!("/{parent}/{id}"))
}

fn namespace(typ: LinuxNamespaceType, ns: &Ns) -> Option<LinuxNamespace> {
    let mut n = LinuxNamespace::default();
    n.set_typ(typ);
    match ns {
        Ns::New => {}
        Ns::Host => return None,
        Ns::Join(p) => {
            n.set_path(Some(p.clone()));
        }
    }
    Some(n)
}

/// Builds the OCI runtime spec of a container. Reads /etc/passwd and /etc/group of the
/// rootfs (never following links out of it) and, like Docker, creates the working directory
/// in the rootfs when it is missing. Errors are `Error::Invalid` naming the flag or field.
pub fn build_spec(inp: &SpecInputs) -> Result<Spec> {
    build_spec_on(inp, Host::get())
}

fn build_spec_on(inp: &SpecInputs, host: &Host) -> Result<Spec> {
    let cfg = inp.config;
    let hc = &cfg.host;
    let img = inp.image_config;

    // Namespaces.
    let pid = ns_mode("--pid", "PID", &hc.pid_mode, &inp.pidns_path, true)?;
    let ipc = ns_mode("--ipc", "IPC", &hc.ipc_mode, &inp.ipcns_path, true)?;
    let uts = ns_mode("--uts", "UTS", &hc.uts_mode, &None, false)?;
    let net = match &hc.network_mode {
        // Default is resolved at create; a namespace of its own if it ever got here.
        NetworkMode::None | NetworkMode::Default => Ns::New,
        NetworkMode::Host => Ns::Host,
        NetworkMode::Network(name) => match &inp.netns_path {
            Some(p) => Ns::Join(p.clone()),
            None => {
                return Err(Error::invalid(
                    "--network",
                    format!("{name}: the container's network namespace is missing"),
                ));
            }
        },
        NetworkMode::Container(name) => match &inp.netns_path {
            Some(p) => Ns::Join(p.clone()),
            None => {
                return Err(Error::invalid(
                    "--network",
                    format!("container:{name}: the other container's namespace path is missing"),
                ));
            }
        },
    };
    if uts == Ns::Host && cfg.hostname.as_deref().is_some_and(|h| !h.is_empty()) {
        return Err(Error::invalid(
            "--hostname",
            "Conflicting options: hostname and the UTS mode",
        ));
    }

    // Hostname: -h, else the host's with --network host, else the short ID.
    let hostname = match cfg.hostname.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => h.to_string(),
        None if uts == Ns::Host || net == Ns::Host => host.hostname.clone(),
        None => inp.id.chars().take(12).collect(),
    };

    // Process.
    let mut args = process_args(cfg, img)?;
    let init = hc.init && pid == Ns::New;
    if init {
        if inp.init_path.is_none() {
            return Err(Error::Internal("--init: no berth-init binary given".into()));
        }
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }
    let env = process::environment(cfg, img, &hostname);
    let cwd = process::working_dir(cfg, img)?;
    user::ensure_working_dir(inp.rootfs, &cwd)?;
    let user_spec = process::user(cfg, img);
    let (uid, gid, additional) = resolve_user(&user_spec, inp.rootfs, &cfg.group_add)?;
    let cap_list = caps::capability_list(host, &hc.cap_add, &hc.cap_drop, hc.privileged)?;
    let rlimits = resources::rlimits(&hc.resources.ulimits)?;

    let mut user = OciUser::default();
    user.set_uid(uid);
    user.set_gid(gid);
    user.set_additional_gids(Some(additional));
    let mut p = Process::default();
    p.set_terminal(Some(cfg.tty));
    p.set_user(user);
    p.set_args(Some(args));
    p.set_env(Some(env));
    p.set_cwd(PathBuf::from(&cwd));
    p.set_capabilities(Some(caps::capability_sets(&cap_list, uid)?));
    p.set_rlimits((!rlimits.is_empty()).then_some(rlimits));
    p.set_no_new_privileges(Some(hc.security.no_new_privileges));
    p.set_oom_score_adj(resources::oom_score_adj(hc.oom_score_adj)?);
    p.set_apparmor_profile(apparmor(host, cfg)?);

    // Mounts.
    let shm = match ipc {
        Ns::Host => Shm::Host,
        _ if hc.ipc_mode == "none" => Shm::None,
        _ => Shm::Private(hc.shm_size.filter(|s| *s > 0).unwrap_or(DEFAULT_SHM_SIZE)),
    };
    let (mounts, rootfs_propagation) = mounts::build(&MountPlan {
        privileged: hc.privileged,
        read_only_rootfs: hc.read_only_rootfs,
        shm,
        container_dir: inp.container_dir,
        user: inp.mounts,
        init: if init { inp.init_path } else { None },
    })?;

    // Linux.
    let (devices, device_rules) =
        devices::devices(&hc.devices, &hc.device_cgroup_rules, hc.privileged)?;
    let res = resources::resources(host, &hc.resources, device_rules)?;
    let cgroupns = cgroupns(&hc.cgroupns_mode)?;
    let namespaces: Vec<LinuxNamespace> = [
        (LinuxNamespaceType::Mount, Ns::New),
        (LinuxNamespaceType::Network, net.clone()),
        (LinuxNamespaceType::Uts, uts.clone()),
        (LinuxNamespaceType::Pid, pid),
        (LinuxNamespaceType::Ipc, ipc.clone()),
        (LinuxNamespaceType::Cgroup, cgroupns),
    ]
    .iter()
    .filter_map(|(t, ns)| namespace(*t, ns))
    .collect();
    let sysctl = resources::sysctls(
        host,
        &hc.sysctls,
        &resources::NsKinds {
            new_net: net == Ns::New || matches!(hc.network_mode, NetworkMode::Network(_)),
            host_net: net == Ns::Host,
            new_ipc: ipc == Ns::New,
        },
    )?;
    let seccomp = if hc.privileged || hc.security.seccomp_unconfined {
        None
    } else if let Some(json) = hc.security.seccomp_profile.as_deref() {
        Some(seccomp::parse_profile(json)?.resolve(&cap_list, host.arch, host.kernel))
    } else {
        Some(seccomp_default::profile().resolve(&cap_list, host.arch, host.kernel))
    };
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut linux = Linux::default();
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    linux.set_namespaces(Some(namespaces));
    linux.set_resources(Some(res));
    linux.set_cgroups_path(Some(PathBuf::from(inp.cgroups_path)));
    linux.set_devices(Some(devices));
    linux.set_seccomp(seccomp);
    linux.set_sysctl((!sysctl.is_empty()).then_some(sysctl));
    linux.set_rootfs_propagation(rootfs_propagation);
    if hc.privileged {
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    } else {
        linux.set_masked_paths(Some(strs(&MASKED_PATHS)));
        linux.set_readonly_paths(Some(strs(&READONLY_PATHS)));
    }

    let mut root = Root::default();
    root.set_path(inp.rootfs.to_path_buf());
    root.set_readonly(Some(hc.read_only_rootfs));

    let mut annotations: HashMap<String, String> = cfg
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    annotations.insert("org.berth.container.id".to_string(), inp.id.to_string());
    annotations.insert("org.berth.container.image".to_string(), cfg.image.clone());
    if !cfg.image_id.is_empty() {
        annotations.insert(
            "org.berth.container.image-id".to_string(),
            cfg.image_id.clone(),
        );
    }

    let mut spec = Spec::default();
    spec.set_version("1.2.0".to_string());
    spec.set_root(Some(root));
    spec.set_process(Some(p));
    spec.set_mounts(Some(mounts));
    spec.set_linux(Some(linux));
    spec.set_annotations(Some(annotations));
    if uts == Ns::Host {
        spec.set_hostname(None);
        spec.set_domainname(None);
    } else {
        spec.set_hostname(Some(hostname));
        spec.set_domainname(cfg.domainname.clone().filter(|d| !d.is_empty()));
    }
    Ok(spec)
}

/// Whether AppArmor is enabled on this host.
pub(crate) fn apparmor_enabled() -> bool {
    Host::get().apparmor
}

/// The AppArmor profile: the one asked for (refused when AppArmor is off, except
/// "unconfined"), "unconfined" for privileged containers on AppArmor hosts, else none.
fn apparmor(host: &Host, cfg: &ContainerConfig) -> Result<Option<String>> {
    let asked = cfg.host.security.apparmor.clone().filter(|p| !p.is_empty());
    match asked {
        Some(p) if !host.apparmor => {
            if p == "unconfined" {
                Ok(None)
            } else {
                Err(Error::invalid(
                    "--security-opt",
                    format!("apparmor={p}: AppArmor is not enabled on this host"),
                ))
            }
        }
        Some(p) => Ok(Some(p)),
        None if host.apparmor && cfg.host.privileged => Ok(Some("unconfined".into())),
        None => Ok(None),
    }
}

#[cfg(test)]
mod runs;
#[cfg(test)]
mod tests;
