//! Resource limits on cgroup v2 (unified hierarchy).

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{Cgroup, fs};
use crate::error::{Error, Result};

/// Enables every available controller in the `cgroup.subtree_control` of each ancestor of
/// `dir` (below `mount`), so that the leaf gets them.
pub fn enable_controllers(mount: &Path, dir: &Path) -> Result<()> {
    let available = fs::read(mount, "cgroup.controllers")?;
    let wanted: Vec<String> = available
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut chain: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|p| p.starts_with(mount))
        .collect();
    chain.reverse();
    for d in chain {
        let cur = fs::read(d, "cgroup.subtree_control").unwrap_or_default();
        let missing: Vec<&str> = wanted
            .iter()
            .map(String::as_str)
            .filter(|w| !cur.split_whitespace().any(|c| c == &w[1..]))
            .collect();
        if !missing.is_empty() {
            // Controllers that cannot be enabled here (e.g. cpu with realtime tasks) are
            // reported when a limit actually needs them.
            for m in missing {
                let _ = fs::write(d, "cgroup.subtree_control", m);
            }
        }
    }
    Ok(())
}

/// Converts cgroup v1 cpu shares (2-262144) to v2 cpu weight (1-10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// Converts blkio weight (10-1000) to io weight (1-10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

fn max_or(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

/// Applies `r` to the unified hierarchy.
pub fn apply(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    let Some(dir) = cg.unified_dir() else {
        return Ok(());
    };
    if let Some(m) = r.memory() {
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            return Err(Error::spec(
                "linux.resources.memory.kernel",
                "kernel memory limits do not exist on cgroup v2",
            ));
        }
        if let Some(s) = m.swappiness() {
            return Err(Error::spec(
                "linux.resources.memory.swappiness",
                format!("{s}: not supported on cgroup v2"),
            ));
        }
        if let Some(l) = m.limit() {
            fs::write(dir, "memory.max", &max_or(l))?;
        }
        if let Some(s) = m.swap() {
            // The spec's swap is memory+swap; v2 limits swap alone.
            let v = match (s, m.limit()) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(l)) if l > 0 => (s - l).max(0).to_string(),
                (s, _) => s.to_string(),
            };
            if dir.join("memory.swap.max").exists() {
                fs::write(dir, "memory.swap.max", &v)?;
            }
        }
        if let Some(v) = m.reservation() {
            fs::write(dir, "memory.low", &max_or(v))?;
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(Error::spec(
                "linux.resources.memory.disableOOMKiller",
                "not supported on cgroup v2",
            ));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            fs::write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let period = c.period().filter(|p| *p != 0).unwrap_or(100_000);
            let quota = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".into(),
            };
            fs::write(dir, "cpu.max", &format!("{quota} {period}"))?;
        }
        if let Some(b) = c.burst() {
            fs::write(dir, "cpu.max.burst", &b.to_string())?;
        }
        if let Some(i) = c.idle() {
            fs::write(dir, "cpu.idle", &i.to_string())?;
        }
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            return Err(Error::spec(
                "linux.resources.cpu.realtimeRuntime",
                "realtime limits are not supported on cgroup v2",
            ));
        }
        for (v, file) in [(c.cpus(), "cpuset.cpus"), (c.mems(), "cpuset.mems")] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                fs::write(dir, file, v)?;
            }
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        fs::write(dir, "pids.max", &v)?;
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            fs::write(
                dir,
                "io.weight",
                &format!("default {}", blkio_to_io_weight(w)),
            )?;
        }
        for d in b.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(w) = d.weight() {
                fs::write(
                    dir,
                    "io.weight",
                    &format!("{}:{} {}", d.major(), d.minor(), blkio_to_io_weight(w)),
                )?;
            }
        }
        for (list, key) in [
            (b.throttle_read_bps_device(), "rbps"),
            (b.throttle_write_bps_device(), "wbps"),
            (b.throttle_read_iops_device(), "riops"),
            (b.throttle_write_iops_device(), "wiops"),
        ] {
            for d in list.as_deref().unwrap_or(&[]) {
                let v = if d.rate() == 0 {
                    "max".to_string()
                } else {
                    d.rate().to_string()
                };
                fs::write(
                    dir,
                    "io.max",
                    &format!("{}:{} {key}={v}", d.major(), d.minor()),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().as_deref().unwrap_or(&[]) {
        fs::write(
            dir,
            &format!("hugetlb.{}.max", h.page_size()),
            &h.limit().to_string(),
        )?;
    }
    if r.network().is_some() {
        return Err(Error::spec(
            "linux.resources.network",
            "net_cls/net_prio do not exist on cgroup v2",
        ));
    }
    if let Some(u) = r.unified() {
        for (k, v) in u {
            if k.contains('/') || k.starts_with('.') || !k.contains('.') {
                return Err(Error::spec(
                    format!("linux.resources.unified.{k}"),
                    "not a cgroup file name",
                ));
            }
            fs::write(dir, k, v)?;
        }
    }
    if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        super::bpf::apply(dir, r.devices().as_deref().unwrap_or(&[]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }
}
