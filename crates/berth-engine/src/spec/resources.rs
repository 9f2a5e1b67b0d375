//! Cgroup resources, rlimits, sysctls and the OOM score, validated with Docker's rules and
//! messages.

use std::collections::HashMap;

use oci_spec::runtime::{
    LinuxCpu, LinuxDeviceCgroup, LinuxMemory, LinuxPids, LinuxResources, PosixRlimit,
    PosixRlimitBuilder, PosixRlimitType,
};

use berth_runtime::spec::IPC_SYSCTLS;

use super::host::{Host, parse_list};
use crate::config::{Resources, Ulimit};
use crate::{Error, Result};

/// The smallest memory limit or reservation Docker accepts.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The CFS period used for `--cpus`, in microseconds.
const NANO_CPU_PERIOD: u32 = 100_000;

fn inv(flag: &str, msg: impl Into<String>) -> Error {
    Error::invalid(flag, msg)
}

fn format_list(v: &[u32]) -> String {
    // Compress 0,1,2,5 into "0-2,5".
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(",")
}

fn check_cpuset(flag: &str, what: &str, nodes: &str, list: &str, avail: &[u32]) -> Result<()> {
    let want = parse_list(list)
        .ok_or_else(|| inv(flag, format!("invalid value {list} for cpuset {what}")))?;
    if want.iter().any(|c| !avail.contains(c)) {
        return Err(inv(
            flag,
            format!(
                "Requested {nodes} are not available - requested {list}, available: {}",
                format_list(avail)
            ),
        ));
    }
    Ok(())
}

/// The cgroup resources for `r` plus the device rules, validated as Docker does.
pub(crate) fn resources(
    host: &Host,
    r: &Resources,
    devices: Vec<LinuxDeviceCgroup>,
) -> Result<LinuxResources> {
    let memory = r.memory.filter(|m| *m != 0);
    let reservation = r.memory_reservation.filter(|m| *m != 0);
    let mut swap = r.memory_swap.filter(|m| *m != 0);
    if memory.is_some_and(|m| m < MIN_MEMORY) {
        return Err(inv("--memory", "Minimum memory limit allowed is 6MB"));
    }
    if let Some(s) = swap
        && s != -1
    {
        match memory {
            None => {
                return Err(inv(
                    "--memory-swap",
                    "You should always set the Memory limit when using Memoryswap limit, see usage",
                ));
            }
            Some(m) if s < m => {
                return Err(inv(
                    "--memory-swap",
                    "Minimum memoryswap limit should be larger than memory limit, see usage",
                ));
            }
            _ => {}
        }
    }
    if let Some(res) = reservation {
        if res < MIN_MEMORY {
            return Err(inv(
                "--memory-reservation",
                "Minimum memory reservation allowed is 6MB",
            ));
        }
        if memory.is_some_and(|m| m < res) {
            return Err(inv(
                "--memory-reservation",
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            ));
        }
    }
    // Docker's default swap is as much again as the memory; without swap accounting no
    // swap limit is asked for at all.
    if swap.is_none() {
        swap = memory.map(|m| m.saturating_mul(2));
    }
    if !host.swap_limit {
        swap = None;
    }

    let mut cpu = LinuxCpu::default();
    let mut any_cpu = false;
    if let Some(n) = r.nano_cpus.filter(|n| *n != 0) {
        if r.cpu_period.is_some_and(|p| p > 0) {
            return Err(inv(
                "--cpus",
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        if r.cpu_quota.is_some_and(|q| q > 0) {
            return Err(inv(
                "--cpus",
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ));
        }
        let ncpu = i64::try_from(host.cpus.len().max(1)).unwrap_or(i64::MAX);
        if !(10_000_000..=ncpu * 1_000_000_000).contains(&n) {
            return Err(inv(
                "--cpus",
                format!(
                    "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
                ),
            ));
        }
        cpu.set_period(Some(u64::from(NANO_CPU_PERIOD)));
        cpu.set_quota(Some(n * i64::from(NANO_CPU_PERIOD) / 1_000_000_000));
        any_cpu = true;
    }
    if let Some(p) = r.cpu_period.filter(|p| *p != 0) {
        if !(1000..=1_000_000).contains(&p) {
            return Err(inv(
                "--cpu-period",
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ));
        }
        cpu.set_period(Some(p));
        any_cpu = true;
    }
    if let Some(q) = r.cpu_quota.filter(|q| *q != 0) {
        if q > 0 && q < 1000 {
            return Err(inv(
                "--cpu-quota",
                "CPU cfs quota can not be less than 1ms (i.e. 1000)",
            ));
        }
        cpu.set_quota(Some(q));
        any_cpu = true;
    }
    if r.cpu_rt_period.is_some_and(|p| p > 0) || r.cpu_rt_runtime.is_some_and(|v| v != 0) {
        if let (Some(p), Some(v)) = (r.cpu_rt_period, r.cpu_rt_runtime)
            && i128::from(v) > i128::from(p)
        {
            return Err(inv(
                "--cpu-rt-runtime",
                "cpu real-time runtime cannot be higher than cpu real-time period",
            ));
        }
        cpu.set_realtime_period(r.cpu_rt_period.filter(|p| *p > 0));
        cpu.set_realtime_runtime(r.cpu_rt_runtime.filter(|v| *v != 0));
        any_cpu = true;
    }
    if let Some(s) = r.cpu_shares.filter(|s| *s != 0) {
        cpu.set_shares(Some(s.clamp(2, 262_144)));
        any_cpu = true;
    }
    if let Some(c) = r.cpuset_cpus.as_deref().filter(|c| !c.is_empty()) {
        check_cpuset("--cpuset-cpus", "cpus", "CPUs", c, &host.cpus)?;
        cpu.set_cpus(Some(c.to_string()));
        any_cpu = true;
    }
    if let Some(m) = r.cpuset_mems.as_deref().filter(|c| !c.is_empty()) {
        let avail = host.mems.clone().unwrap_or_else(|| vec![0]);
        check_cpuset("--cpuset-mems", "mems", "memory nodes", m, &avail)?;
        cpu.set_mems(Some(m.to_string()));
        any_cpu = true;
    }

    let mut res = LinuxResources::default();
    res.set_devices(Some(devices));
    let swappiness = match r.memory_swappiness {
        None | Some(-1) => None,
        Some(v) => Some(u64::try_from(v).ok().filter(|v| *v <= 100).ok_or_else(|| {
            inv(
                "--memory-swappiness",
                format!("invalid value: {v}, valid memory swappiness range is 0-100"),
            )
        })?),
    };
    if memory.is_some()
        || reservation.is_some()
        || swap.is_some()
        || r.oom_kill_disable
        || swappiness.is_some()
    {
        let mut mem = LinuxMemory::default();
        mem.set_limit(memory);
        mem.set_reservation(reservation);
        mem.set_swap(swap);
        mem.set_swappiness(swappiness);
        if r.oom_kill_disable {
            mem.set_disable_oom_killer(Some(true));
        }
        res.set_memory(Some(mem));
    }
    if any_cpu {
        res.set_cpu(Some(cpu));
    }
    if let Some(p) = r.pids_limit.filter(|p| *p > 0) {
        let mut pids = LinuxPids::default();
        pids.set_limit(p);
        res.set_pids(Some(pids));
    }
    if let Some(b) = super::blkio::block_io(r)? {
        res.set_block_io(Some(b));
    }
    Ok(res)
}

fn rlimit_type(name: &str) -> Option<PosixRlimitType> {
    use PosixRlimitType as T;
    Some(match name {
        "core" => T::RlimitCore,
        "cpu" => T::RlimitCpu,
        "data" => T::RlimitData,
        "fsize" => T::RlimitFsize,
        "locks" => T::RlimitLocks,
        "memlock" => T::RlimitMemlock,
        "msgqueue" => T::RlimitMsgqueue,
        "nice" => T::RlimitNice,
        "nofile" => T::RlimitNofile,
        "nproc" => T::RlimitNproc,
        "rss" => T::RlimitRss,
        "rtprio" => T::RlimitRtprio,
        "rttime" => T::RlimitRttime,
        "sigpending" => T::RlimitSigpending,
        "stack" => T::RlimitStack,
        _ => return None,
    })
}

/// The rlimits from `--ulimit` (only those: no defaults are added). A name given twice
/// keeps its last value.
pub(crate) fn rlimits(ulimits: &[Ulimit]) -> Result<Vec<PosixRlimit>> {
    let mut out: Vec<PosixRlimit> = Vec::new();
    for u in ulimits {
        let t = rlimit_type(&u.name)
            .ok_or_else(|| inv("--ulimit", format!("invalid ulimit type: {}", u.name)))?;
        if u.soft > u.hard {
            return Err(inv(
                "--ulimit",
                format!(
                    "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                    u.soft, u.hard
                ),
            ));
        }
        let r = PosixRlimitBuilder::default()
            .typ(t)
            .soft(u.soft)
            .hard(u.hard)
            .build()
            .map_err(|e| Error::Internal(format!("rlimit {}: {e}", u.name)))?;
        out.retain(|x| x.typ() != t);
        out.push(r);
    }
    Ok(out)
}

/// Where the container's namespaces come from, for sysctl checks.
pub(crate) struct NsKinds {
    /// A new network namespace (not the host's, not another container's).
    pub new_net: bool,
    /// The host's network namespace.
    pub host_net: bool,
    /// A new ipc namespace.
    pub new_ipc: bool,
}

/// The sysctls: Docker's defaults for a new network namespace (unprivileged ping and low
/// ports) under the user's, which may only name namespaced sysctls.
pub(crate) fn sysctls(
    host: &Host,
    user: &std::collections::BTreeMap<String, String>,
    ns: &NsKinds,
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    if ns.new_net {
        if host.ping_group_range {
            out.insert(
                "net.ipv4.ping_group_range".to_string(),
                "0 2147483647".to_string(),
            );
        }
        if host.unprivileged_port_start {
            out.insert(
                "net.ipv4.ip_unprivileged_port_start".to_string(),
                "0".to_string(),
            );
        }
    }
    for (k, v) in user {
        let key = k.replace('/', ".");
        if key.starts_with("net.") {
            if ns.host_net {
                return Err(inv(
                    "--sysctl",
                    format!("sysctl '{k}' is not allowed in the host's network namespace"),
                ));
            }
            if !ns.new_net {
                return Err(inv(
                    "--sysctl",
                    format!(
                        "sysctl '{k}' is not allowed when joining another container's network namespace"
                    ),
                ));
            }
        } else if IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            if !ns.new_ipc {
                return Err(inv(
                    "--sysctl",
                    format!("sysctl '{k}' is not allowed without a private ipc namespace"),
                ));
            }
        } else {
            return Err(inv("--sysctl", format!("sysctl '{k}' is not allowed")));
        }
        out.insert(key, v.clone());
    }
    Ok(out)
}

/// Validates `--oom-score-adj`.
pub(crate) fn oom_score_adj(v: Option<i32>) -> Result<Option<i32>> {
    crate::config::validate::oom_score_adj(v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::host::test_host;

    const MB: i64 = 1024 * 1024;

    fn err(r: Resources) -> String {
        resources(&test_host(), &r, vec![]).unwrap_err().to_string()
    }

    #[test]
    fn memory_rules() {
        let e = err(Resources {
            memory: Some(5 * MB),
            ..Default::default()
        });
        assert_eq!(e, "invalid --memory: Minimum memory limit allowed is 6MB");
        let e = err(Resources {
            memory: Some(64 * MB),
            memory_swap: Some(32 * MB),
            ..Default::default()
        });
        assert!(
            e.ends_with("Minimum memoryswap limit should be larger than memory limit, see usage"),
            "{e}"
        );
        let e = err(Resources {
            memory_swap: Some(32 * MB),
            ..Default::default()
        });
        assert!(e.contains("You should always set the Memory limit"), "{e}");
        let e = err(Resources {
            memory: Some(64 * MB),
            memory_reservation: Some(128 * MB),
            ..Default::default()
        });
        assert!(e.contains("can not be less than memory reservation"), "{e}");
        let e = err(Resources {
            memory_reservation: Some(MB),
            ..Default::default()
        });
        assert!(
            e.contains("Minimum memory reservation allowed is 6MB"),
            "{e}"
        );
    }

    #[test]
    fn memory_values() {
        let h = test_host();
        let r = resources(
            &h,
            &Resources {
                memory: Some(64 * MB),
                memory_reservation: Some(32 * MB),
                oom_kill_disable: true,
                ..Default::default()
            },
            vec![],
        )
        .unwrap();
        let m = r.memory().unwrap();
        assert_eq!(m.limit(), Some(64 * MB));
        assert_eq!(
            m.swap(),
            Some(128 * MB),
            "swap defaults to twice the memory"
        );
        assert_eq!(m.reservation(), Some(32 * MB));
        assert_eq!(m.disable_oom_killer(), Some(true));
        let mut h2 = h.clone();
        h2.swap_limit = false;
        let r = resources(
            &h2,
            &Resources {
                memory: Some(64 * MB),
                memory_swap: Some(-1),
                ..Default::default()
            },
            vec![],
        )
        .unwrap();
        assert_eq!(r.memory().unwrap().swap(), None);
        let r = resources(&h, &Resources::default(), vec![]).unwrap();
        assert!(r.memory().is_none() && r.cpu().is_none() && r.pids().is_none());
    }

    #[test]
    fn cpu_rules() {
        let h = test_host();
        let r = resources(
            &h,
            &Resources {
                nano_cpus: Some(1_500_000_000),
                cpu_shares: Some(1),
                cpuset_cpus: Some("0-1".into()),
                ..Default::default()
            },
            vec![],
        )
        .unwrap();
        let c = r.cpu().clone().unwrap();
        assert_eq!(
            (c.quota(), c.period(), c.shares()),
            (Some(150_000), Some(100_000), Some(2))
        );
        assert_eq!(c.cpus().as_deref(), Some("0-1"));
        let e = err(Resources {
            nano_cpus: Some(1_000_000_000),
            cpu_period: Some(50_000),
            ..Default::default()
        });
        assert!(e.ends_with("Conflicting options: Nano CPUs and CPU Period cannot both be set"));
        let e = err(Resources {
            nano_cpus: Some(1_000_000_000),
            cpu_quota: Some(50_000),
            ..Default::default()
        });
        assert!(e.ends_with("Conflicting options: Nano CPUs and CPU Quota cannot both be set"));
        let e = err(Resources {
            nano_cpus: Some(3_000_000_000),
            ..Default::default()
        });
        assert!(
            e.ends_with("Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"),
            "{e}"
        );
        let e = err(Resources {
            cpu_period: Some(999),
            ..Default::default()
        });
        assert!(e.contains("CPU cfs period can not be less than 1ms"), "{e}");
        let e = err(Resources {
            cpu_quota: Some(10),
            ..Default::default()
        });
        assert!(e.contains("CPU cfs quota can not be less than 1ms"), "{e}");
        let e = err(Resources {
            cpuset_cpus: Some("0,3".into()),
            ..Default::default()
        });
        assert!(
            e.ends_with("Requested CPUs are not available - requested 0,3, available: 0-1"),
            "{e}"
        );
        let e = err(Resources {
            cpuset_cpus: Some("x".into()),
            ..Default::default()
        });
        assert!(e.contains("invalid value x for cpuset cpus"), "{e}");
        let e = err(Resources {
            cpuset_mems: Some("1".into()),
            ..Default::default()
        });
        assert!(
            e.contains("Requested memory nodes are not available"),
            "{e}"
        );
    }

    #[test]
    fn pids_and_blkio() {
        let h = test_host();
        let r = resources(
            &h,
            &Resources {
                pids_limit: Some(100),
                blkio_weight: Some(500),
                ..Default::default()
            },
            vec![],
        )
        .unwrap();
        assert_eq!(r.pids().unwrap().limit(), 100);
        assert_eq!(r.block_io().as_ref().unwrap().weight(), Some(500));
        let r = resources(
            &h,
            &Resources {
                pids_limit: Some(-1),
                ..Default::default()
            },
            vec![],
        )
        .unwrap();
        assert!(r.pids().is_none());
        let e = err(Resources {
            blkio_weight: Some(5),
            ..Default::default()
        });
        assert!(e.ends_with("Range of blkio weight is from 10 to 1000"));
    }

    #[test]
    fn ulimits() {
        let u = |n: &str, s, h| Ulimit {
            name: n.into(),
            soft: s,
            hard: h,
        };
        let r = rlimits(&[u("nofile", 100, 200), u("nproc", 5, 5), u("nofile", 10, 20)]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].typ(), PosixRlimitType::RlimitNofile);
        assert_eq!((r[1].soft(), r[1].hard()), (10, 20));
        let e = rlimits(&[u("bogus", 1, 1)]).unwrap_err().to_string();
        assert!(e.contains("invalid ulimit type: bogus"), "{e}");
        let e = rlimits(&[u("core", 2, 1)]).unwrap_err().to_string();
        assert!(
            e.contains("soft limit must be less than or equal to hard limit: 2 > 1"),
            "{e}"
        );
        assert!(rlimits(&[]).unwrap().is_empty());
    }

    #[test]
    fn sysctl_rules() {
        let h = test_host();
        let m = |k: &str| [(k.to_string(), "1".to_string())].into_iter().collect();
        let private = NsKinds {
            new_net: true,
            host_net: false,
            new_ipc: true,
        };
        let s = sysctls(&h, &m("net.ipv4.ip_forward"), &private).unwrap();
        assert_eq!(
            s.get("net.ipv4.ping_group_range").map(String::as_str),
            Some("0 2147483647")
        );
        assert_eq!(
            s.get("net.ipv4.ip_unprivileged_port_start")
                .map(String::as_str),
            Some("0")
        );
        assert_eq!(s.get("net.ipv4.ip_forward").map(String::as_str), Some("1"));
        assert!(sysctls(&h, &m("kernel.shmmax"), &private).is_ok());
        assert!(sysctls(&h, &m("fs.mqueue.msg_max"), &private).is_ok());
        let e = sysctls(&h, &m("kernel.panic"), &private)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sysctl 'kernel.panic' is not allowed"), "{e}");
        let hostnet = NsKinds {
            new_net: false,
            host_net: true,
            new_ipc: false,
        };
        let s = sysctls(&h, &Default::default(), &hostnet).unwrap();
        assert!(s.is_empty());
        assert!(sysctls(&h, &m("net.core.somaxconn"), &hostnet).is_err());
        assert!(sysctls(&h, &m("kernel.sem"), &hostnet).is_err());
    }

    #[test]
    fn oom_score() {
        assert_eq!(oom_score_adj(Some(500)).unwrap(), Some(500));
        assert!(oom_score_adj(Some(1001)).is_err());
        assert_eq!(oom_score_adj(None).unwrap(), None);
    }

    #[test]
    fn list_format() {
        assert_eq!(format_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }
}
