//! The less common flags of `create` and `run`: cgroup placement, block IO limits, swappiness,
//! the container ID file, and the flags that have no place in a container's configuration
//! (the network flags of later networking work, Windows-only ones, other runtimes...),
//! refused here as Docker's CLI or daemon would.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result, bail};
use berth_engine::config::Resources;
use berth_engine::config::parse::{self, Rate};
use clap::Args;

use super::resource_args::ResourceArgs;

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
    pub memory_swappiness: Option<String>,
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
    /// Publish all exposed ports to random ports
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
    pub cpu_count: Option<String>,
    /// CPU percent (Windows only).
    #[arg(long = "cpu-percent", hide = true)]
    pub cpu_percent: Option<String>,
    /// Maximum IO bandwidth limit for the system drive (Windows only).
    #[arg(long = "io-maxbandwidth", hide = true)]
    pub io_maxbandwidth: Option<String>,
    /// Maximum IOps limit for the system drive (Windows only).
    #[arg(long = "io-maxiops", hide = true)]
    pub io_maxiops: Option<String>,
}

impl MoreArgs {
    /// Refuses the flags that have no place in a container's configuration (the kernel
    /// memory limit is only warned about, as by Docker).
    pub fn refuse_unsupported(&self) -> Result<()> {
        let later_networking = [("--link-local-ip", !self.link_local_ip.is_empty())];
        if let Some((flag, _)) = later_networking.iter().find(|(_, set)| *set) {
            bail!("{flag} is not supported by this version of berth yet");
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
        Ok(())
    }

    /// The limits of a new container: the shared resource flags, plus create's own
    /// (`--oom-kill-disable`, `--ulimit`, swappiness, block IO rates).
    pub fn resources(
        &self,
        shared: &ResourceArgs,
        oom_kill_disable: bool,
        ulimits: &[String],
    ) -> Result<Resources> {
        let rates = |flag: &str, items: &[String], unit| {
            items
                .iter()
                .map(|v| parse::device_rate(flag, v, unit))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut r = parse::resources(&shared.flags())?;
        r.oom_kill_disable = oom_kill_disable;
        for u in ulimits {
            r.ulimits.push(parse::ulimit(u)?);
        }
        r.memory_swappiness =
            parse::int_opt("--memory-swappiness", self.memory_swappiness.as_deref())?;
        r.blkio_weight_device = rates(
            "--blkio-weight-device",
            &self.blkio_weight_device,
            Rate::Number,
        )?;
        r.device_read_bps = rates("--device-read-bps", &self.device_read_bps, Rate::Bytes)?;
        r.device_write_bps = rates("--device-write-bps", &self.device_write_bps, Rate::Bytes)?;
        r.device_read_iops = rates("--device-read-iops", &self.device_read_iops, Rate::Number)?;
        r.device_write_iops = rates("--device-write-iops", &self.device_write_iops, Rate::Number)?;
        Ok(r)
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
    fn refusals() {
        let cases = [
            (
                MoreArgs {
                    userns: Some("keep-id".into()),
                    ..Default::default()
                },
                "invalid --userns",
            ),
            (
                MoreArgs {
                    cpu_count: Some("two".into()),
                    ..Default::default()
                },
                "--cpu-count is only supported for Windows containers",
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
            let e = a.refuse_unsupported().unwrap_err();
            assert!(e.to_string().contains(msg), "{e}");
        }
        MoreArgs::default().refuse_unsupported().unwrap();
    }

    #[test]
    fn block_io_and_swappiness_flags() {
        let a = MoreArgs {
            device_read_bps: vec!["/dev/vda:1mb".into()],
            device_write_iops: vec!["/dev/vda:300".into()],
            memory_swappiness: Some("-1".into()),
            ..Default::default()
        };
        let shared = ResourceArgs {
            memory: Some("64m".into()),
            ..Default::default()
        };
        let r = a.resources(&shared, true, &["nofile=10".into()]).unwrap();
        assert_eq!(r.device_read_bps[0].rate, 1 << 20);
        assert_eq!(r.device_write_iops[0].rate, 300);
        assert_eq!((r.memory, r.memory_swappiness), (Some(64 << 20), Some(-1)));
        assert!(r.oom_kill_disable && r.ulimits[0].soft == 10);
        let bad = MoreArgs {
            device_read_bps: vec!["vda:1mb".into()],
            ..Default::default()
        };
        let e = bad.resources(&shared, false, &[]).unwrap_err();
        assert!(e.to_string().contains("--device-read-bps"), "{e}");
    }
}
