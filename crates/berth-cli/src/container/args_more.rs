//! The less common flags of `create` and `run`: cgroup placement, block IO limits, swappiness,
//! the container ID file, and the network flags that need bridge networks (refused clearly).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result, bail};
use berth_engine::config::{ContainerConfig, DeviceRate};
use clap::Args;

use berth_engine::config::parse;

#[derive(Args, Debug, Clone, Default)]
pub struct MoreArgs {
    /// Attach to STDIN, STDOUT or STDERR.
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    /// Write the container ID to the file.
    #[arg(long)]
    pub cidfile: Option<String>,
    /// Suppress the pull output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Cgroup namespace to use (host|private).
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// Optional parent cgroup for the container.
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Tune container memory swappiness (0 to 100).
    #[arg(long = "memory-swappiness", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// Block IO weight (relative device weight), PATH:WEIGHT.
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device, PATH:RATE[kb|mb|gb].
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device.
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device, PATH:RATE.
    #[arg(long = "device-read-iops")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device.
    #[arg(long = "device-write-iops")]
    pub device_write_iops: Vec<String>,
    /// User namespace to use (only "host": berth does not remap users).
    #[arg(long)]
    pub userns: Option<String>,
    /// Optional volume driver for the container (local).
    #[arg(long = "volume-driver")]
    pub volume_driver: Option<String>,
    /// Storage driver options for the container.
    #[arg(long = "storage-opt")]
    pub storage_opt: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Container MAC address.
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// IPv4 address.
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address.
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// Add link to another container.
    #[arg(long)]
    pub link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses.
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    /// Add an annotation to the container (passed through to the OCI runtime).
    #[arg(long)]
    pub annotation: Vec<String>,
    /// Kernel memory limit (deprecated; ignored, as by Docker on current kernels).
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Runtime to use for this container (berth's own only).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Container isolation technology ("default" only on Linux).
    #[arg(long)]
    pub isolation: Option<String>,
    /// GPU devices to add to the container.
    #[arg(long)]
    pub gpus: Option<String>,
    #[command(flatten)]
    pub trust: crate::registry::ContentTrust,
    /// CPU count (Windows only).
    #[arg(long = "cpu-count", hide = true)]
    pub cpu_count: Option<i64>,
    /// CPU percent (Windows only).
    #[arg(long = "cpu-percent", hide = true)]
    pub cpu_percent: Option<i64>,
    /// Maximum IO bandwidth limit for the system drive (Windows only).
    #[arg(long = "io-maxbandwidth", hide = true)]
    pub io_maxbandwidth: Option<String>,
    /// Maximum IOps limit for the system drive (Windows only).
    #[arg(long = "io-maxiops", hide = true)]
    pub io_maxiops: Option<u64>,
}

/// `PATH:VALUE` of the block IO flags; the path must be a device under /dev.
fn device_rate(flag: &str, v: &str, value: impl Fn(&str) -> Option<u64>) -> Result<DeviceRate> {
    let (path, rate) = v
        .rsplit_once(':')
        .with_context(|| format!("invalid {flag} {v:?}: use <device-path>:<value>"))?;
    if !path.starts_with("/dev/") {
        bail!("invalid {flag} {v:?}: bad format for device path: {path}");
    }
    let rate = value(rate).with_context(|| format!("invalid {flag} {v:?}: bad value {rate:?}"))?;
    Ok(DeviceRate {
        path: path.to_string(),
        rate,
    })
}

impl MoreArgs {
    /// Records these flags in `c`, or says why they cannot be used.
    pub fn apply(&self, c: &mut ContainerConfig) -> Result<()> {
        let needs_bridge = [
            ("-P/--publish-all", self.publish_all),
            ("--mac-address", self.mac_address.is_some()),
            ("--ip", self.ip.is_some()),
            ("--ip6", self.ip6.is_some()),
            ("--network-alias", !self.network_alias.is_empty()),
            ("--link", !self.link.is_empty()),
            ("--link-local-ip", !self.link_local_ip.is_empty()),
        ];
        if let Some((flag, _)) = needs_bridge.iter().find(|(_, set)| *set) {
            bail!("{flag} needs bridge networks, which this version of berth does not have yet");
        }
        let windows_only = [
            ("--cpu-count", self.cpu_count.is_some()),
            ("--cpu-percent", self.cpu_percent.is_some()),
            ("--io-maxbandwidth", self.io_maxbandwidth.is_some()),
            ("--io-maxiops", self.io_maxiops.is_some()),
        ];
        if let Some((flag, _)) = windows_only.iter().find(|(_, set)| *set) {
            bail!("{flag} is only supported for Windows containers");
        }
        if self.gpus.is_some() {
            bail!("--gpus is not supported: berth has no GPU device support");
        }
        self.trust.check()?;
        match self.runtime.as_deref() {
            None | Some("") | Some("berth") | Some("berth-runtime") => {}
            Some(r) => bail!("unknown or invalid runtime name: {r}"),
        }
        match self.isolation.as_deref() {
            None | Some("") | Some("default") => {}
            Some(i) => bail!("invalid isolation: {i:?}: only \"default\" is valid on Linux"),
        }
        if self.kernel_memory.is_some() {
            eprintln!(
                "WARNING: Specifying a kernel memory limit is deprecated and has no effect; the limit is ignored."
            );
        }
        for a in &self.annotation {
            let (k, v) = a
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .with_context(|| format!("invalid --annotation {a:?}: use key=value"))?;
            c.annotations.insert(k.to_string(), v.to_string());
        }
        match self.userns.as_deref() {
            None | Some("") | Some("host") => {}
            Some(m) => {
                bail!("invalid --userns {m:?}: berth does not remap users, only \"host\" is valid")
            }
        }
        match self.volume_driver.as_deref() {
            None | Some("") | Some("local") => {}
            Some(d) => bail!("volume driver {d:?} is not supported (only local)"),
        }
        if !self.storage_opt.is_empty() {
            bail!(
                "--storage-opt is not supported: the overlay snapshots have no per-container quota"
            );
        }
        // The streams a client attaches to (inspect's Config.Attach*); run -d clears them.
        let mut streams = (c.open_stdin, true, true);
        if !self.attach.is_empty() {
            streams = (false, false, false);
            for s in &self.attach {
                match s.to_ascii_lowercase().as_str() {
                    "stdin" => streams.0 = true,
                    "stdout" => streams.1 = true,
                    "stderr" => streams.2 = true,
                    _ => bail!(
                        "invalid argument \"{s}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
                    ),
                }
            }
        }
        (c.attach_stdin, c.attach_stdout, c.attach_stderr) = streams;
        let h = &mut c.host;
        match self.cgroupns.as_deref() {
            None | Some("") => {}
            Some(m @ ("host" | "private")) => h.cgroupns_mode = m.to_string(),
            Some(m) => bail!("invalid --cgroupns {m:?}: use host or private"),
        }
        h.cgroup_parent = self.cgroup_parent.clone().unwrap_or_default();
        let r = &mut h.resources;
        r.memory_swappiness = self.memory_swappiness;
        let bytes = |flag: &'static str| {
            move |s: &str| {
                parse::bytes(flag, s)
                    .ok()
                    .and_then(|b| u64::try_from(b).ok())
            }
        };
        let number = |s: &str| s.parse::<u64>().ok();
        for v in &self.blkio_weight_device {
            r.blkio_weight_device
                .push(device_rate("--blkio-weight-device", v, number)?);
        }
        for v in &self.device_read_bps {
            r.device_read_bps.push(device_rate(
                "--device-read-bps",
                v,
                bytes("--device-read-bps"),
            )?);
        }
        for v in &self.device_write_bps {
            r.device_write_bps.push(device_rate(
                "--device-write-bps",
                v,
                bytes("--device-write-bps"),
            )?);
        }
        for v in &self.device_read_iops {
            r.device_read_iops
                .push(device_rate("--device-read-iops", v, number)?);
        }
        for v in &self.device_write_iops {
            r.device_write_iops
                .push(device_rate("--device-write-iops", v, number)?);
        }
        Ok(())
    }

    /// `--cidfile`: refuses a file that exists (Docker's guard against two containers
    /// sharing one), before anything is created.
    pub fn check_cidfile(&self) -> Result<()> {
        if let Some(p) = &self.cidfile
            && std::path::Path::new(p).exists()
        {
            bail!(
                "container ID file found, make sure the other container isn't running or delete {p}"
            );
        }
        Ok(())
    }

    /// Writes the new container's ID to `--cidfile` (created exclusively, mode 0644).
    pub fn write_cidfile(&self, id: &str) -> Result<()> {
        let Some(p) = &self.cidfile else {
            return Ok(());
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(p)
            .with_context(|| format!("failed to create the container ID file {p}"))?;
        f.write_all(id.as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("failed to write the container ID file {p}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_io_flags() {
        let a = MoreArgs {
            device_read_bps: vec!["/dev/vda:1mb".into()],
            device_write_iops: vec!["/dev/vda:300".into()],
            blkio_weight_device: vec!["/dev/vda:200".into()],
            ..Default::default()
        };
        let mut c = ContainerConfig::default();
        a.apply(&mut c).unwrap();
        let r = &c.host.resources;
        assert_eq!(r.device_read_bps[0].rate, 1 << 20);
        assert_eq!(r.device_read_bps[0].path, "/dev/vda");
        assert_eq!(r.device_write_iops[0].rate, 300);
        assert_eq!(r.blkio_weight_device[0].rate, 200);
        for bad in ["vda:1mb", "/dev/vda", "/dev/vda:lots", "/dev/vda:-1"] {
            let a = MoreArgs {
                device_read_bps: vec![bad.into()],
                ..Default::default()
            };
            let e = a.apply(&mut ContainerConfig::default()).unwrap_err();
            assert!(e.to_string().contains("--device-read-bps"), "{bad}: {e}");
        }
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                MoreArgs {
                    publish_all: true,
                    ..Default::default()
                },
                "-P/--publish-all needs bridge networks",
            ),
            (
                MoreArgs {
                    userns: Some("keep-id".into()),
                    ..Default::default()
                },
                "invalid --userns",
            ),
            (
                MoreArgs {
                    cgroupns: Some("shared".into()),
                    ..Default::default()
                },
                "invalid --cgroupns",
            ),
            (
                MoreArgs {
                    storage_opt: vec!["size=1G".into()],
                    ..Default::default()
                },
                "--storage-opt is not supported",
            ),
        ];
        for (a, msg) in cases {
            let e = a.apply(&mut ContainerConfig::default()).unwrap_err();
            assert!(e.to_string().contains(msg), "{e}");
        }
    }
}
