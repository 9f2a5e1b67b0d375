//! Block IO limits: `--blkio-weight`, `--blkio-weight-device` and the per-device throttles
//! (`--device-read-bps` ...), with the device numbers read from the host's nodes.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use oci_spec::runtime::{
    LinuxBlockIo, LinuxThrottleDevice, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
};

use crate::config::{DeviceRate, Resources};
use crate::{Error, Result};

fn inv(flag: &str, msg: impl Into<String>) -> Error {
    Error::invalid(flag, msg)
}

/// The major and minor numbers of the block device `path` on the host.
fn block_device(flag: &str, path: &str) -> Result<(i64, i64)> {
    let md = std::fs::metadata(path).map_err(|e| inv(flag, format!("{path}: {e}")))?;
    if !md.file_type().is_block_device() {
        return Err(inv(flag, format!("{path} is not a block device")));
    }
    let rdev = md.rdev();
    Ok((
        i64::from(rustix::fs::major(rdev)),
        i64::from(rustix::fs::minor(rdev)),
    ))
}

fn throttles(flag: &str, list: &[DeviceRate]) -> Result<Option<Vec<LinuxThrottleDevice>>> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(list.len());
    for d in list {
        let (major, minor) = block_device(flag, &d.path)?;
        let t = LinuxThrottleDeviceBuilder::default()
            .major(major)
            .minor(minor)
            .rate(d.rate)
            .build()
            .map_err(|e| Error::Internal(format!("throttle device {}: {e}", d.path)))?;
        out.push(t);
    }
    Ok(Some(out))
}

/// A blkio weight: 0 (none) or 10-1000.
fn check_weight(flag: &str, w: u64) -> Result<u16> {
    u16::try_from(w)
        .ok()
        .filter(|w| *w == 0 || (10..=1000).contains(w))
        .ok_or_else(|| inv(flag, "Range of blkio weight is from 10 to 1000"))
}

/// The spec's blockIO section, or None when no flag asks for one.
pub(crate) fn block_io(r: &Resources) -> Result<Option<LinuxBlockIo>> {
    let mut b = LinuxBlockIo::default();
    let mut any = false;
    if let Some(w) = r.blkio_weight.filter(|w| *w != 0) {
        check_weight("--blkio-weight", u64::from(w))?;
        b.set_weight(Some(w));
        any = true;
    }
    if !r.blkio_weight_device.is_empty() {
        let flag = "--blkio-weight-device";
        let mut v = Vec::new();
        for d in &r.blkio_weight_device {
            let weight = check_weight(flag, d.rate)?;
            let (major, minor) = block_device(flag, &d.path)?;
            let w = LinuxWeightDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .weight(weight)
                .build()
                .map_err(|e| Error::Internal(format!("weight device {}: {e}", d.path)))?;
            v.push(w);
        }
        b.set_weight_device(Some(v));
        any = true;
    }
    let lists = [
        ("--device-read-bps", &r.device_read_bps),
        ("--device-write-bps", &r.device_write_bps),
        ("--device-read-iops", &r.device_read_iops),
        ("--device-write-iops", &r.device_write_iops),
    ];
    for (i, (flag, list)) in lists.into_iter().enumerate() {
        let Some(t) = throttles(flag, list)? else {
            continue;
        };
        any = true;
        match i {
            0 => b.set_throttle_read_bps_device(Some(t)),
            1 => b.set_throttle_write_bps_device(Some(t)),
            2 => b.set_throttle_read_iops_device(Some(t)),
            _ => b.set_throttle_write_iops_device(Some(t)),
        };
    }
    Ok(any.then_some(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(path: &str, rate: u64) -> DeviceRate {
        DeviceRate {
            path: path.into(),
            rate,
        }
    }

    /// A block device of this machine, if it has one.
    fn some_block_device() -> Option<String> {
        std::fs::read_dir("/dev").ok()?.flatten().find_map(|e| {
            let ft = e.file_type().ok()?;
            ft.is_block_device()
                .then(|| e.path().to_string_lossy().into_owned())
        })
    }

    #[test]
    fn nothing_asked_nothing_set() {
        assert_eq!(block_io(&Resources::default()).unwrap(), None);
    }

    #[test]
    fn throttles_take_the_device_numbers() {
        let Some(dev) = some_block_device() else {
            return;
        };
        let rdev = std::fs::metadata(&dev).unwrap().rdev();
        let r = Resources {
            device_read_bps: vec![rate(&dev, 1 << 20)],
            device_write_iops: vec![rate(&dev, 100)],
            blkio_weight_device: vec![rate(&dev, 300)],
            ..Default::default()
        };
        let b = block_io(&r).unwrap().unwrap();
        let t = &b.throttle_read_bps_device().as_ref().unwrap()[0];
        assert_eq!(t.major(), i64::from(rustix::fs::major(rdev)));
        assert_eq!(t.minor(), i64::from(rustix::fs::minor(rdev)));
        assert_eq!(t.rate(), 1 << 20);
        assert_eq!(
            b.throttle_write_iops_device().as_ref().unwrap()[0].rate(),
            100
        );
        assert_eq!(b.weight_device().as_ref().unwrap()[0].weight(), Some(300));
        assert!(b.throttle_write_bps_device().is_none());
    }

    #[test]
    fn bad_devices_and_weights_are_refused() {
        let e = block_io(&Resources {
            device_read_bps: vec![rate("/dev/null", 1)],
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("/dev/null is not a block device"),
            "{e}"
        );
        let e = block_io(&Resources {
            device_write_bps: vec![rate("/no/such/dev", 1)],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("--device-write-bps"), "{e}");
        let e = block_io(&Resources {
            blkio_weight: Some(5),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("from 10 to 1000"), "{e}");
    }
}
