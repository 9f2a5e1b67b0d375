//! `update`: resource changes from flags or a JSON file (`-r`, `-` for stdin).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
};

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// JSON file with LinuxResources ("-" for stdin).
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with k/m/g suffix; -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Deprecated kernel memory limit (refused on kernels without it).
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    pub id: String,
}

/// Parses sizes like "512", "100k", "64m", "1g", "1.5g" (binary multiples); "-1" is -1.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num.parse().with_context(|| format!("invalid size {s:?}"))?;
    if v < 0.0 || !v.is_finite() {
        bail!("invalid size {s:?}");
    }
    berth_runtime::util::f64_to_i64(v * mult as f64)
        .with_context(|| format!("invalid size {s:?}: too large"))
}

/// The resources the flags (and `-r`) describe.
pub fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut r: LinuxResources = match &a.resources {
        Some(p) => {
            let mut buf = Vec::new();
            if p.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("read resources from stdin")?;
            } else {
                buf = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
            }
            let de = &mut serde_json::Deserializer::from_slice(&buf);
            serde_path_to_error::deserialize(de)
                .map_err(|e| anyhow::anyhow!("resources: {}: {}", e.path(), e.inner()))?
        }
        None => LinuxResources::default(),
    };
    if a.kernel_memory.is_some() {
        bail!("--kernel-memory: kernel memory limits are not supported by this kernel");
    }
    if a.memory.is_some() || a.memory_reservation.is_some() || a.memory_swap.is_some() {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(v) = &a.memory {
            m = m.limit(parse_bytes(v)?);
        }
        if let Some(v) = &a.memory_reservation {
            m = m.reservation(parse_bytes(v)?);
        }
        if let Some(v) = &a.memory_swap {
            m = m.swap(parse_bytes(v)?);
        }
        r.set_memory(Some(m.build()?));
    }
    let cpu_set = a.cpu_period.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_share.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some();
    if cpu_set {
        let mut c = LinuxCpuBuilder::default();
        if let Some(v) = a.cpu_period {
            c = c.period(v);
        }
        if let Some(v) = a.cpu_quota {
            c = c.quota(v);
        }
        if let Some(v) = a.cpu_share {
            c = c.shares(v);
        }
        if let Some(v) = a.cpu_rt_period {
            c = c.realtime_period(v);
        }
        if let Some(v) = a.cpu_rt_runtime {
            c = c.realtime_runtime(v);
        }
        if let Some(v) = &a.cpuset_cpus {
            c = c.cpus(v.clone());
        }
        if let Some(v) = &a.cpuset_mems {
            c = c.mems(v.clone());
        }
        r.set_cpu(Some(c.build()?));
    }
    if let Some(v) = a.pids_limit {
        r.set_pids(Some(LinuxPidsBuilder::default().limit(v).build()?));
    }
    if let Some(w) = a.blkio_weight {
        r.set_block_io(Some(LinuxBlockIoBuilder::default().weight(w).build()?));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert_eq!(parse_bytes("100k").unwrap(), 102_400);
        assert_eq!(parse_bytes("64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("2mb").unwrap(), 2 << 20);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("abc").is_err());
        assert!(parse_bytes("-5").is_err());
        // Past i64 it used to saturate silently.
        let e = parse_bytes("9000000t").unwrap_err().to_string();
        assert_eq!(e, "invalid size \"9000000t\": too large");
    }
}
