//! Resource usage read from the cgroup files (v1 and v2), in runc's `events --stats` shape.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Cgroup, CgroupMode, fs};
use crate::error::Result;

/// CPU usage in nanoseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    pub usage_total: u64,
    pub usage_user: u64,
    pub usage_kernel: u64,
    pub percpu: Vec<u64>,
    pub throttling_periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

/// Memory usage in bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    pub usage: u64,
    pub max_usage: u64,
    /// `u64::MAX` when unlimited.
    pub limit: u64,
    pub failcnt: u64,
    pub swap_usage: u64,
    pub cache: u64,
    pub oom_kills: u64,
    /// The raw memory.stat counters.
    pub raw: BTreeMap<String, u64>,
}

/// Process counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PidsStats {
    pub current: u64,
    /// 0 when unlimited.
    pub limit: u64,
}

/// One block-device counter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// Usage of one container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: Vec<BlkioEntry>,
}

const USER_HZ: u64 = 100;

pub(super) fn collect(cg: &Cgroup) -> Result<Stats> {
    if cg.mode == CgroupMode::Unified {
        Ok(cg.unified_dir().map(v2).unwrap_or_default())
    } else {
        Ok(v1(cg))
    }
}

pub(super) fn oom_kills(cg: &Cgroup) -> u64 {
    if cg.mode == CgroupMode::Unified {
        cg.unified_dir()
            .map(|d| kv(d, "memory.events", "oom_kill"))
            .unwrap_or(0)
    } else {
        cg.dir_for("memory")
            .map(|d| kv(d, "memory.oom_control", "oom_kill"))
            .unwrap_or(0)
    }
}

fn kv(dir: &Path, file: &str, key: &str) -> u64 {
    fs::read_kv(dir, file)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or(0)
}

fn v1(cg: &Cgroup) -> Stats {
    let mut s = Stats::default();
    if let Some(d) = cg.dir_for("cpuacct") {
        s.cpu.usage_total = fs::read_u64(d, "cpuacct.usage").unwrap_or(0);
        s.cpu.percpu = std::fs::read_to_string(d.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let ticks = |k: &str| kv(d, "cpuacct.stat", k) * (1_000_000_000 / USER_HZ);
        s.cpu.usage_user = ticks("user");
        s.cpu.usage_kernel = ticks("system");
    }
    if let Some(d) = cg.dir_for("cpu") {
        s.cpu.throttling_periods = kv(d, "cpu.stat", "nr_periods");
        s.cpu.throttled_periods = kv(d, "cpu.stat", "nr_throttled");
        s.cpu.throttled_time = kv(d, "cpu.stat", "throttled_time");
    }
    if let Some(d) = cg.dir_for("memory") {
        let m = &mut s.memory;
        m.usage = fs::read_u64(d, "memory.usage_in_bytes").unwrap_or(0);
        m.max_usage = fs::read_u64(d, "memory.max_usage_in_bytes").unwrap_or(0);
        m.limit = fs::read_u64(d, "memory.limit_in_bytes").unwrap_or(u64::MAX);
        m.failcnt = fs::read_u64(d, "memory.failcnt").unwrap_or(0);
        if let Some(sw) = fs::read_u64(d, "memory.memsw.usage_in_bytes") {
            m.swap_usage = sw.saturating_sub(m.usage);
        }
        m.raw = fs::read_kv(d, "memory.stat").into_iter().collect();
        m.cache = m.raw.get("total_cache").copied().unwrap_or(0);
        m.oom_kills = kv(d, "memory.oom_control", "oom_kill");
        // The v1 "unlimited" value is a large page-aligned number.
        if m.limit >= (1 << 62) {
            m.limit = u64::MAX;
        }
    }
    if let Some(d) = cg.dir_for("pids") {
        s.pids.current = fs::read_u64(d, "pids.current").unwrap_or(0);
        s.pids.limit = fs::read_u64(d, "pids.max")
            .filter(|v| *v != u64::MAX)
            .unwrap_or(0);
    }
    if let Some(d) = cg.dir_for("blkio") {
        for file in [
            "blkio.throttle.io_service_bytes_recursive",
            "blkio.io_service_bytes_recursive",
        ] {
            let text = std::fs::read_to_string(d.join(file)).unwrap_or_default();
            s.blkio = text
                .lines()
                .filter_map(|l| {
                    let mut it = l.split_whitespace();
                    let (dev, op, v) = (it.next()?, it.next()?, it.next()?);
                    let (ma, mi) = dev.split_once(':')?;
                    Some(BlkioEntry {
                        major: ma.parse().ok()?,
                        minor: mi.parse().ok()?,
                        op: op.to_string(),
                        value: v.parse().ok()?,
                    })
                })
                .collect();
            if !s.blkio.is_empty() {
                break;
            }
        }
    }
    s
}

fn v2(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = |k: &str| kv(d, "cpu.stat", k) * 1000;
    s.cpu.usage_total = cpu("usage_usec");
    s.cpu.usage_user = cpu("user_usec");
    s.cpu.usage_kernel = cpu("system_usec");
    s.cpu.throttling_periods = kv(d, "cpu.stat", "nr_periods");
    s.cpu.throttled_periods = kv(d, "cpu.stat", "nr_throttled");
    s.cpu.throttled_time = cpu("throttled_usec");
    let m = &mut s.memory;
    m.usage = fs::read_u64(d, "memory.current").unwrap_or(0);
    m.max_usage = fs::read_u64(d, "memory.peak").unwrap_or(0);
    m.limit = fs::read_u64(d, "memory.max").unwrap_or(u64::MAX);
    m.swap_usage = fs::read_u64(d, "memory.swap.current").unwrap_or(0);
    m.failcnt = kv(d, "memory.events", "max");
    m.oom_kills = kv(d, "memory.events", "oom_kill");
    m.raw = fs::read_kv(d, "memory.stat").into_iter().collect();
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    s.pids.current = fs::read_u64(d, "pids.current").unwrap_or(0);
    s.pids.limit = fs::read_u64(d, "pids.max")
        .filter(|v| *v != u64::MAX)
        .unwrap_or(0);
    let io = std::fs::read_to_string(d.join("io.stat")).unwrap_or_default();
    for line in io.lines() {
        let mut it = line.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|dev| dev.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else {
            continue;
        };
        for kvp in it {
            let Some((k, v)) = kvp.split_once('=') else {
                continue;
            };
            let op = match k {
                "rbytes" => "Read",
                "wbytes" => "Write",
                _ => continue,
            };
            if let Ok(value) = v.parse() {
                s.blkio.push(BlkioEntry {
                    major,
                    minor,
                    op: op.into(),
                    value,
                });
            }
        }
    }
    s
}
