//! Facts about the host that the spec depends on (kernel, capabilities, CPUs, cgroups), read
//! once per process. Tests build a `Host` by hand so that the spec functions stay pure.

use std::sync::OnceLock;

/// What the spec generator needs to know about the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    /// The highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap).
    pub cap_last: u8,
    /// This process's bounding set: capabilities it can hand to a container.
    pub bounding: u64,
    /// Kernel version (major, minor).
    pub kernel: (u32, u32),
    /// Architecture in Docker's (Go's) spelling: "amd64", "arm64", ...
    pub arch: &'static str,
    /// Online CPUs.
    pub cpus: Vec<u32>,
    /// Online memory nodes (None when the host does not say).
    pub mems: Option<Vec<u32>>,
    /// Whether memory+swap can be limited (v1 memsw files, v2 memory.swap.max).
    pub swap_limit: bool,
    /// Whether memory swappiness can be set (a cgroup v1 memory controller).
    pub swappiness: bool,
    /// Whether real-time CPU limits can be set (a cgroup v1 cpu controller with
    /// CONFIG_RT_GROUP_SCHED).
    pub cpu_rt: bool,
    /// Whether a block I/O weight can be set (v1 blkio.weight or blkio.bfq.weight: only
    /// with the CFQ or BFQ scheduler; v2 with the io controller).
    pub blkio_weight: bool,
    /// Whether per-device block I/O weights can be set.
    pub blkio_weight_device: bool,
    /// Whether AppArmor is enabled.
    pub apparmor: bool,
    /// Whether net.ipv4.ping_group_range exists.
    pub ping_group_range: bool,
    /// Whether net.ipv4.ip_unprivileged_port_start exists.
    pub unprivileged_port_start: bool,
    /// The host's hostname (for `--network host` / `--uts host`).
    pub hostname: String,
    /// Whether cgroup v2 is the only hierarchy (a unified host; not v1, not hybrid).
    pub cgroup_v2: bool,
}

impl Host {
    /// The host this process runs on (read once).
    pub fn get() -> &'static Host {
        static HOST: OnceLock<Host> = OnceLock::new();
        HOST.get_or_init(Host::detect)
    }

    fn detect() -> Host {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cap_last = read("/proc/sys/kernel/cap_last_cap")
            .trim()
            .parse()
            .unwrap_or(40);
        let bounding = read("/proc/self/status")
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(u64::MAX);
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let cpus = parse_list(read("/sys/devices/system/cpu/online").trim()).unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..u32::try_from(n).unwrap_or(u32::MAX)).collect()
        });
        let mems = std::fs::read_to_string("/sys/devices/system/node/online")
            .ok()
            .and_then(|s| parse_list(s.trim()));
        Host {
            cap_last,
            bounding,
            kernel: parse_kernel(&release).unwrap_or((0, 0)),
            arch: go_arch(std::env::consts::ARCH),
            cpus,
            mems,
            swap_limit: swap_limit_supported(),
            swappiness: std::path::Path::new("/sys/fs/cgroup/memory/memory.swappiness").exists(),
            cpu_rt: std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists()
                || std::path::Path::new("/sys/fs/cgroup/cpu,cpuacct/cpu.rt_runtime_us").exists(),
            blkio_weight: blkio_supports(&["blkio.weight", "blkio.bfq.weight"]),
            blkio_weight_device: blkio_supports(&[
                "blkio.weight_device",
                "blkio.bfq.weight_device",
            ]),
            apparmor: read("/sys/module/apparmor/parameters/enabled").trim() == "Y",
            ping_group_range: std::path::Path::new("/proc/sys/net/ipv4/ping_group_range").exists(),
            unprivileged_port_start: std::path::Path::new(
                "/proc/sys/net/ipv4/ip_unprivileged_port_start",
            )
            .exists(),
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            cgroup_v2: berth_runtime::Layout::detect()
                .is_ok_and(|l| l.mode == berth_runtime::CgroupMode::Unified),
        }
    }

    /// Whether this process can hand capability `n` to a container.
    pub fn can_grant(&self, n: u8) -> bool {
        n <= self.cap_last && n < 64 && self.bounding & (1u64 << n) != 0
    }
}

/// Whether one of the v1 blkio `files` exists (any of them: CFQ's or BFQ's), or, on a
/// unified host, whether the io controller is there.
fn blkio_supports(files: &[&str]) -> bool {
    let v1 = std::path::Path::new("/sys/fs/cgroup/blkio");
    if v1.is_dir() {
        return files.iter().any(|f| v1.join(f).exists());
    }
    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|w| w == "io"))
}

/// "6.1.0-18-amd64" → (6, 1).
pub(crate) fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(['.', '-', '+']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// Rust's architecture name in Go's spelling, which Docker's seccomp profiles use.
pub(crate) fn go_arch(rust: &str) -> &'static str {
    match rust {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" => "mips64le",
        "loongarch64" => "loong64",
        _ => "unknown",
    }
}

/// Parses a kernel list such as "0-3,5" into its members.
pub(crate) fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let num = |x: &str| {
            if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
                None
            } else {
                x.parse::<u32>().ok()
            }
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b || b - a > 65_536 {
            return None;
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

fn swap_limit_supported() -> bool {
    if std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        return true;
    }
    // cgroup v2: memory.swap.max exists in every non-root cgroup when swap accounting is on.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return false;
    };
    let mut dir = std::path::PathBuf::from("/sys/fs/cgroup");
    dir.push(path.trim_start_matches('/'));
    dir.join("memory.swap.max").exists()
        || dir
            .parent()
            .is_some_and(|p| p.join("memory.swap.max").exists())
}

#[cfg(test)]
pub(crate) fn test_host() -> Host {
    Host {
        cap_last: 40,
        bounding: (1u64 << 41) - 1,
        kernel: (6, 1),
        arch: "amd64",
        cpus: vec![0, 1],
        mems: Some(vec![0]),
        swap_limit: true,
        swappiness: true,
        cpu_rt: true,
        blkio_weight: true,
        blkio_weight_device: true,
        apparmor: false,
        ping_group_range: true,
        unprivileged_port_start: true,
        hostname: "hosty".into(),
        cgroup_v2: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel("5.15.0+"), Some((5, 15)));
        assert_eq!(parse_kernel("x"), None);
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-3,5"), Some(vec![0, 1, 2, 3, 5]));
        assert_eq!(parse_list("1"), Some(vec![1]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("a"), None);
        assert_eq!(parse_list("1,"), None);
    }

    #[test]
    fn detect_reads_this_host() {
        let h = Host::get();
        assert!(h.cap_last >= 30);
        assert!(!h.cpus.is_empty());
        assert!(h.kernel.0 >= 3);
    }
}
