//! Resource limits on cgroup v1 controllers.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::{Cgroup, fs};
use crate::error::{Error, Result};

/// New cpuset cgroups start with empty cpus/mems: copy them from the parent, top down.
pub fn init_cpuset(mount: &Path, dir: &Path) -> Result<()> {
    let mut chain: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|p| p.starts_with(mount) && *p != mount)
        .map(Path::to_path_buf)
        .collect();
    chain.reverse();
    for d in chain {
        let parent = d.parent().unwrap_or(mount);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if fs::read(&d, f)?.trim().is_empty() {
                let v = fs::read(parent, f)?;
                fs::write(&d, f, v.trim())?;
            }
        }
    }
    Ok(())
}

fn need<'a>(cg: &'a Cgroup, controller: &str, field: &str) -> Result<&'a Path> {
    cg.dir_for(controller).ok_or_else(|| {
        Error::spec(
            field,
            format!("the {controller} cgroup controller is not mounted on this host"),
        )
    })
}

/// Applies `r` to the v1 controllers.
pub fn apply(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        let dir = need(cg, "memory", "linux.resources.memory")?;
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            for (set, file) in [
                (m.kernel(), "memory.kmem.limit_in_bytes"),
                (m.kernel_tcp(), "memory.kmem.tcp.limit_in_bytes"),
            ] {
                if let Some(v) = set {
                    if !dir.join(file).exists() {
                        return Err(Error::spec(
                            "linux.resources.memory.kernel",
                            "kernel memory limits are not supported by this kernel",
                        ));
                    }
                    fs::write(dir, file, &v.to_string())?;
                }
            }
        }
        set_memory(dir, m.limit(), m.swap())?;
        if let Some(v) = m.reservation() {
            fs::write(dir, "memory.soft_limit_in_bytes", &v.to_string())?;
        }
        if let Some(v) = m.swappiness() {
            fs::write(dir, "memory.swappiness", &v.to_string())?;
        }
        if m.disable_oom_killer() == Some(true) {
            fs::write(dir, "memory.oom_control", "1")?;
        }
    }
    if let Some(c) = r.cpu() {
        if c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
            || c.idle().is_some()
            || c.burst().is_some()
        {
            let dir = need(cg, "cpu", "linux.resources.cpu")?;
            if let Some(v) = c.shares().filter(|v| *v != 0) {
                fs::write(dir, "cpu.shares", &v.to_string())?;
            }
            if let Some(v) = c.period().filter(|v| *v != 0) {
                fs::write(dir, "cpu.cfs_period_us", &v.to_string())?;
            }
            if let Some(v) = c.quota().filter(|v| *v != 0) {
                fs::write(dir, "cpu.cfs_quota_us", &v.to_string())?;
            }
            if let Some(v) = c.burst() {
                fs::write(dir, "cpu.cfs_burst_us", &v.to_string())?;
            }
            if let Some(v) = c.realtime_period() {
                fs::write(dir, "cpu.rt_period_us", &v.to_string())?;
            }
            if let Some(v) = c.realtime_runtime() {
                fs::write(dir, "cpu.rt_runtime_us", &v.to_string())?;
            }
            if let Some(v) = c.idle() {
                fs::write(dir, "cpu.idle", &v.to_string())?;
            }
        }
        for (v, file) in [(c.cpus(), "cpuset.cpus"), (c.mems(), "cpuset.mems")] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                let dir = need(cg, "cpuset", "linux.resources.cpu.cpus")?;
                fs::write(dir, file, v)?;
            }
        }
    }
    if let Some(p) = r.pids() {
        let dir = need(cg, "pids", "linux.resources.pids")?;
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".to_string()
        };
        fs::write(dir, "pids.max", &v)?;
    }
    if let Some(b) = r.block_io() {
        let dir = need(cg, "blkio", "linux.resources.blockIO")?;
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            let file = if dir.join("blkio.weight").exists() {
                "blkio.weight"
            } else {
                "blkio.bfq.weight"
            };
            fs::write(dir, file, &w.to_string())?;
        }
        if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
            fs::write(dir, "blkio.leaf_weight", &w.to_string())?;
        }
        for d in b.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(w) = d.weight() {
                let file = if dir.join("blkio.weight_device").exists() {
                    "blkio.weight_device"
                } else {
                    "blkio.bfq.weight_device"
                };
                fs::write(dir, file, &format!("{}:{} {w}", d.major(), d.minor()))?;
            }
        }
        for (list, file) in [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
            ),
        ] {
            for d in list.as_deref().unwrap_or(&[]) {
                fs::write(
                    dir,
                    file,
                    &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().as_deref().unwrap_or(&[]) {
        let dir = need(cg, "hugetlb", "linux.resources.hugepageLimits")?;
        fs::write(
            dir,
            &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
            &h.limit().to_string(),
        )?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            let dir = need(cg, "net_cls", "linux.resources.network.classID")?;
            fs::write(dir, "net_cls.classid", &id.to_string())?;
        }
        for p in n.priorities().as_deref().unwrap_or(&[]) {
            let dir = need(cg, "net_prio", "linux.resources.network.priorities")?;
            fs::write(
                dir,
                "net_prio.ifpriomap",
                &format!("{} {}", p.name(), p.priority()),
            )?;
        }
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        need(cg, "rdma", "linux.resources.rdma")?;
        return Err(Error::spec(
            "linux.resources.rdma",
            "rdma limits are not supported by berth-runtime yet",
        ));
    }
    if r.unified().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(Error::spec(
            "linux.resources.unified",
            "needs cgroup v2, but this host's controllers are on cgroup v1",
        ));
    }
    if let Some(devs) = r.devices() {
        let dir = need(cg, "devices", "linux.resources.devices")?;
        apply_devices(dir, devs)?;
    }
    Ok(())
}

fn set_memory(dir: &Path, limit: Option<i64>, swap: Option<i64>) -> Result<()> {
    let memsw = dir.join("memory.memsw.limit_in_bytes").exists();
    if swap.is_some() && !memsw && host_has_swap() {
        // Without swap accounting, swap cannot be limited: only "unlimited" or "equal to
        // the memory limit" (no swap at all) can be honoured. A host without swap honours any.
        let s = swap.unwrap_or(0);
        if s != -1 && Some(s) != limit && s != 0 {
            return Err(Error::spec(
                "linux.resources.memory.swap",
                "this kernel has no swap accounting (memory.memsw.*), so swap cannot be limited",
            ));
        }
    }
    let lim = limit.map(|v| v.to_string());
    let sw = swap.filter(|_| memsw).map(|v| v.to_string());
    // memsw must stay >= limit at every step: raise memsw first when growing.
    let current = fs::read_u64(dir, "memory.limit_in_bytes").unwrap_or(u64::MAX);
    // -1 (unlimited) is the only negative limit that validation lets through.
    let growing = limit.is_none_or(|l| u64::try_from(l).map_or(true, |l| l > current));
    if growing {
        if let Some(s) = &sw {
            fs::write(dir, "memory.memsw.limit_in_bytes", s)?;
        }
        if let Some(l) = &lim {
            fs::write(dir, "memory.limit_in_bytes", l)?;
        }
    } else {
        if let Some(l) = &lim {
            fs::write(dir, "memory.limit_in_bytes", l)?;
        }
        if let Some(s) = &sw {
            fs::write(dir, "memory.memsw.limit_in_bytes", s)?;
        }
    }
    Ok(())
}

fn host_has_swap() -> bool {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("SwapTotal:"))
                .map(|v| v.trim().trim_end_matches("kB").trim() != "0")
        })
        .unwrap_or(false)
}

/// The v1 form of one device rule: "c 1:3 rwm".
pub fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let t = match d.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::P) => 'p',
        Some(LinuxDeviceType::A) | None => 'a',
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    format!("{t} {}:{} {access}", num(d.major()), num(d.minor()))
}

fn apply_devices(dir: &Path, devs: &[LinuxDeviceCgroup]) -> Result<()> {
    // One handle per file; each write() is one rule, as the kernel expects.
    let mut allow: Option<std::fs::File> = None;
    let mut deny: Option<std::fs::File> = None;
    for d in devs {
        let rule = device_rule(d);
        let (slot, file) = if d.allow() {
            (&mut allow, "devices.allow")
        } else {
            (&mut deny, "devices.deny")
        };
        // "a *:* rwm" resets the list; the kernel spells it "a".
        let rule = if rule == "a *:* rwm" {
            "a".into()
        } else {
            rule
        };
        let err = |e: std::io::Error| Error::Cgroup {
            path: dir.to_path_buf(),
            msg: format!("write {file} = {rule:?}: {e}"),
        };
        if slot.is_none() {
            *slot = Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(dir.join(file))
                    .map_err(err)?,
            );
        }
        if let Some(f) = slot.as_mut() {
            use std::io::Write;
            f.write_all(rule.as_bytes()).map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn device_rules() {
        let all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        assert_eq!(device_rule(&all), "a *:* rwm");
        let null = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(device_rule(&null), "c 1:3 rw");
        let pts = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(136)
            .access("rwm")
            .build()
            .unwrap();
        assert_eq!(device_rule(&pts), "c 136:* rwm");
    }
}
