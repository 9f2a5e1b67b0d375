//! The resource flags that `create`/`run` and `update` share (Docker's names and units),
//! `--cpus`, and the block IO device rates (`--device-read-bps PATH:RATE`...).

use super::{bytes, int_opt};
use crate::config::{DeviceRate, Resources};
use crate::error::{Error, Result};
use crate::update::UpdateRequest;

/// The resource flags of create, run and update, as given (`None`: not given).
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceFlags<'a> {
    /// `-m`/`--memory`, a size.
    pub memory: Option<&'a str>,
    /// `--memory-swap`, a size or "-1" (unlimited).
    pub memory_swap: Option<&'a str>,
    pub memory_reservation: Option<&'a str>,
    /// `--cpus`, a decimal number of CPUs.
    pub cpus: Option<&'a str>,
    pub cpu_shares: Option<&'a str>,
    pub cpu_period: Option<&'a str>,
    pub cpu_quota: Option<&'a str>,
    pub cpu_rt_period: Option<&'a str>,
    pub cpu_rt_runtime: Option<&'a str>,
    pub cpuset_cpus: Option<&'a str>,
    pub cpuset_mems: Option<&'a str>,
    /// `--pids-limit` ("-1": unlimited).
    pub pids_limit: Option<&'a str>,
    pub blkio_weight: Option<&'a str>,
}

/// `--cpus 1.5`: billionths of a CPU. Its range is checked at create (`config::validate`).
pub fn nano_cpus(s: &str) -> Result<i64> {
    let c: f64 = s.trim().parse().ok().filter(|c: &f64| c.is_finite()).ok_or_else(|| {
        Error::InvalidValue(format!(
            "invalid argument {s:?} for \"--cpus\" flag: failed to parse {s} as a rational number"
        ))
    })?;
    berth_runtime::util::f64_to_i64(c * 1e9)
        .ok_or_else(|| crate::config::validate::cpus_out_of_range(c))
}

/// The flags as an update of the limits (what is not given changes nothing; the restart
/// policy is left to the caller).
pub fn update_request(f: &ResourceFlags) -> Result<UpdateRequest> {
    let size = |flag: &str, v: Option<&str>| -> Result<Option<i64>> {
        v.map(|s| match s {
            "-1" if flag == "--memory-swap" => Ok(-1),
            s => bytes(flag, s),
        })
        .transpose()
    };
    Ok(UpdateRequest {
        memory: size("--memory", f.memory)?,
        memory_swap: size("--memory-swap", f.memory_swap)?,
        memory_reservation: size("--memory-reservation", f.memory_reservation)?,
        nano_cpus: f.cpus.map(nano_cpus).transpose()?,
        cpu_shares: int_opt("--cpu-shares", f.cpu_shares)?,
        cpu_period: int_opt("--cpu-period", f.cpu_period)?,
        cpu_quota: int_opt("--cpu-quota", f.cpu_quota)?,
        cpu_rt_period: int_opt("--cpu-rt-period", f.cpu_rt_period)?,
        cpu_rt_runtime: int_opt("--cpu-rt-runtime", f.cpu_rt_runtime)?,
        cpuset_cpus: f.cpuset_cpus.map(String::from),
        cpuset_mems: f.cpuset_mems.map(String::from),
        pids_limit: int_opt("--pids-limit", f.pids_limit)?,
        blkio_weight: int_opt("--blkio-weight", f.blkio_weight)?,
        restart_policy: None,
    })
}

/// The limits of a new container that the flags describe (the other fields of
/// `Resources` are left at their defaults).
pub fn resources(f: &ResourceFlags) -> Result<Resources> {
    let u = update_request(f)?;
    Ok(Resources {
        memory: u.memory,
        memory_swap: u.memory_swap,
        memory_reservation: u.memory_reservation,
        nano_cpus: u.nano_cpus,
        cpu_shares: u.cpu_shares,
        cpu_period: u.cpu_period,
        cpu_quota: u.cpu_quota,
        cpu_rt_period: u.cpu_rt_period,
        cpu_rt_runtime: u.cpu_rt_runtime,
        cpuset_cpus: u.cpuset_cpus,
        cpuset_mems: u.cpuset_mems,
        pids_limit: u.pids_limit,
        blkio_weight: u.blkio_weight,
        ..Default::default()
    })
}

/// What the value of a block IO flag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Bytes per second, a size ("1mb"): `--device-read-bps`, `--device-write-bps`.
    Bytes,
    /// A plain number: IO per second, or `--blkio-weight-device`'s weight.
    Number,
}

/// `PATH:VALUE` of the block IO flags (`flag` names the flag in errors); the path must be a
/// device under /dev (whether it is a block device is checked at create).
pub fn device_rate(flag: &str, v: &str, unit: Rate) -> Result<DeviceRate> {
    let Some((path, rate)) = v.rsplit_once(':') else {
        bail!("invalid {flag} {v:?}: use <device-path>:<value>");
    };
    if !path.starts_with("/dev/") {
        bail!("invalid {flag} {v:?}: bad format for device path: {path}");
    }
    let value = match unit {
        Rate::Bytes => bytes(flag, rate).ok().and_then(|b| u64::try_from(b).ok()),
        Rate::Number => rate.parse::<u64>().ok(),
    };
    let Some(rate) = value else {
        bail!("invalid {flag} {v:?}: bad value {rate:?}");
    };
    Ok(DeviceRate {
        path: path.to_string(),
        rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus() {
        assert_eq!(nano_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(nano_cpus("0.01").unwrap(), 10_000_000);
        assert_eq!(nano_cpus("-1").unwrap(), -1_000_000_000);
        assert_eq!(
            nano_cpus("two").unwrap_err().to_string(),
            "invalid argument \"two\" for \"--cpus\" flag: failed to parse two as a rational number"
        );
        assert!(nano_cpus("inf").is_err() && nano_cpus("NaN").is_err());
        assert_eq!(
            nano_cpus("1e30").unwrap_err().to_string(),
            "invalid argument 1000000000000000000000000000000 for \"--cpus\" flag: range is 0 to the number of CPUs"
        );
    }

    #[test]
    fn limits() {
        let f = ResourceFlags {
            memory: Some("64m"),
            memory_swap: Some("-1"),
            cpus: Some("2"),
            cpu_shares: Some("512"),
            cpu_quota: Some("-1"),
            cpuset_cpus: Some("0"),
            pids_limit: Some("-1"),
            blkio_weight: Some("300"),
            ..Default::default()
        };
        let u = update_request(&f).unwrap();
        assert_eq!((u.memory, u.memory_swap), (Some(64 << 20), Some(-1)));
        assert_eq!(
            (u.nano_cpus, u.cpu_shares),
            (Some(2_000_000_000), Some(512))
        );
        assert_eq!((u.cpu_quota, u.pids_limit), (Some(-1), Some(-1)));
        assert_eq!(u.blkio_weight, Some(300));
        assert!(u.restart_policy.is_none() && u.cpu_period.is_none());
        let r = resources(&f).unwrap();
        assert_eq!(
            (r.memory, r.cpuset_cpus.as_deref()),
            (Some(64 << 20), Some("0"))
        );
        assert!(r.ulimits.is_empty() && !r.oom_kill_disable);
        assert_eq!(
            resources(&ResourceFlags::default()).unwrap(),
            Resources::default()
        );
        let one = super::super::with::<ResourceFlags<'static>>;
        let bad = [
            (
                one(|f| f.memory = Some("-1")),
                "\"--memory\" flag: invalid size",
            ),
            (
                one(|f| f.memory_swap = Some("lots")),
                "invalid size: 'lots'",
            ),
            (
                one(|f| f.blkio_weight = Some("70000")),
                "value out of range",
            ),
            (one(|f| f.cpu_period = Some("-5")), "\"--cpu-period\" flag"),
        ];
        for (f, want) in bad {
            let e = update_request(&f).unwrap_err().to_string();
            assert!(e.contains(want), "{f:?}: {e}");
        }
    }

    #[test]
    fn block_io() {
        let r = device_rate("--device-read-bps", "/dev/vda:1mb", Rate::Bytes).unwrap();
        assert_eq!((r.path.as_str(), r.rate), ("/dev/vda", 1 << 20));
        assert_eq!(
            device_rate("--device-write-iops", "/dev/vda:300", Rate::Number)
                .unwrap()
                .rate,
            300
        );
        for bad in ["vda:1mb", "/dev/vda", "/dev/vda:lots", "/dev/vda:-1"] {
            let e = device_rate("--device-read-bps", bad, Rate::Bytes).unwrap_err();
            assert!(
                e.to_string().starts_with("invalid --device-read-bps"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            device_rate("--blkio-weight-device", "/dev/vda:1k", Rate::Number)
                .unwrap_err()
                .to_string(),
            "invalid --blkio-weight-device \"/dev/vda:1k\": bad value \"1k\""
        );
    }
}
