//! Device access control on cgroup v2: an eBPF program of type CGROUP_DEVICE, generated from
//! the spec's device rules (the last matching rule decides, as with the v1 lists).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// One eBPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0xf),
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND32_K: u8 = 0x54;
const RSH32_K: u8 = 0x74;
const MOV32_X: u8 = 0xbc;
const MOV64_K: u8 = 0xb7;
const JNE_K: u8 = 0x55;
const EXIT: u8 = 0x95;

/// A device rule's major or minor number as the immediate of a comparison: None (any
/// number) when it is absent or negative (-1 is the wildcard); refused above i32::MAX, which
/// an immediate cannot hold (and no device number reaches: majors have 12 bits, minors 20).
fn rule_number(v: Option<i64>, field: impl FnOnce() -> String) -> Result<Option<i32>> {
    match v {
        Some(n) if n >= 0 => i32::try_from(n).map(Some).map_err(|_| {
            Error::spec(
                field(),
                format!("{n} is out of range (0-{}, or -1 for any)", i32::MAX),
            )
        }),
        _ => Ok(None),
    }
}

/// Checks the numbers of a device rule (`field` names it) before anything is set up.
pub(crate) fn check_rule(r: &LinuxDeviceCgroup, field: &str) -> Result<()> {
    rule_number(r.major(), || format!("{field}.major"))?;
    rule_number(r.minor(), || format!("{field}.minor"))?;
    Ok(())
}

/// Builds the program for `rules`. Registers: r2 = device type, r3 = access, r4 = major,
/// r5 = minor.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let mut block: Vec<(Insn, bool)> = Vec::new(); // (insn, jumps to the next block)
        let ty = match r.typ() {
            Some(LinuxDeviceType::B) => Some(1),
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(2),
            // Fifos are not device nodes: the kernel never asks about them.
            Some(LinuxDeviceType::P) => continue,
            Some(LinuxDeviceType::A) | None => None,
        };
        if let Some(t) = ty {
            block.push((insn(JNE_K, 2, 0, 0, t), true));
        }
        let access = r.access().as_deref().unwrap_or("rwm");
        let mut bits = 0i32;
        for c in access.chars() {
            bits |= match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => 0,
            };
        }
        if bits != 7 {
            block.push((insn(MOV32_X, 1, 3, 0, 0), false));
            block.push((insn(AND32_K, 1, 0, 0, !bits & 0x7), false));
            block.push((insn(JNE_K, 1, 0, 0, 0), true));
        }
        if let Some(m) = rule_number(r.major(), || "linux.resources.devices.major".into())? {
            block.push((insn(JNE_K, 4, 0, 0, m), true));
        }
        if let Some(m) = rule_number(r.minor(), || "linux.resources.devices.minor".into())? {
            block.push((insn(JNE_K, 5, 0, 0, m), true));
        }
        block.push((insn(MOV64_K, 0, 0, 0, i32::from(r.allow())), false));
        block.push((insn(EXIT, 0, 0, 0, 0), false));
        let matches_all = !block.iter().any(|(_, jumps)| *jumps);
        let len = block.len();
        for (i, (mut ins, jumps)) in block.into_iter().enumerate() {
            if jumps {
                // A block holds at most 8 instructions (type, 3 for access, major, minor,
                // mov, exit), so the distance to its end fits an i16.
                #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
                let off = (len - i - 1) as i16;
                ins.off = off;
            }
            p.push(ins);
        }
        if matches_all {
            // Earlier rules can never be reached (the verifier refuses dead code).
            return Ok(p);
        }
    }
    // No rule matched: allowed, like an unrestricted v1 devices cgroup.
    p.push(insn(MOV64_K, 0, 0, 0, 1));
    p.push(insn(EXIT, 0, 0, 0, 0));
    Ok(p)
}

/// The `union bpf_attr` as 16 words (128 bytes: the members this file uses fit).
type Attr = [u64; 16];
const ATTR_SIZE: libc::c_uint = 128;
const _: () = assert!(std::mem::size_of::<Attr>() == 128);

fn bpf(cmd: libc::c_int, attr: &mut Attr) -> std::io::Result<i64> {
    // SAFETY: `attr` is a zeroed, 128-byte buffer laid out as the `union bpf_attr` member
    // for `cmd`; the kernel reads at most the size we pass.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr() as *mut libc::c_void,
            ATTR_SIZE,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A bpf command that returns a new descriptor.
fn bpf_fd(cmd: libc::c_int, attr: &mut Attr) -> std::io::Result<OwnedFd> {
    let r = bpf(cmd, attr)?;
    // SAFETY: PROG_LOAD and PROG_GET_FD_BY_ID return a new descriptor that nothing else owns.
    unsafe { crate::util::owned_fd(r) }
}

/// A descriptor as a bpf_attr field (u32); open descriptors are never negative.
fn fd_field(fd: &OwnedFd) -> std::io::Result<u32> {
    u32::try_from(fd.as_raw_fd()).map_err(|_| std::io::Error::from_raw_os_error(libc::EBADF))
}

fn u32s(a: u32, b: u32) -> u64 {
    u64::from(a) | (u64::from(b) << 32)
}

fn load(prog: &[Insn]) -> std::io::Result<OwnedFd> {
    let license = c"Apache-2.0";
    let count = u32::try_from(prog.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} instructions are too many", prog.len()),
        )
    })?;
    let mut attr = [0u64; 16];
    attr[0] = u32s(BPF_PROG_TYPE_CGROUP_DEVICE, count);
    attr[1] = prog.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    // log_level/log_size (word 3), log_buf (4), kern_version/prog_flags (5) stay 0;
    // prog_name takes words 6-7; prog_ifindex and expected_attach_type share word 8.
    attr[8] = u32s(0, BPF_CGROUP_DEVICE);
    match bpf_fd(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            // Load again with the verifier's log, to say why.
            const LOG_SIZE: u32 = 64 * 1024;
            let mut log = vec![0u8; LOG_SIZE as usize];
            attr[3] = u32s(1, LOG_SIZE);
            attr[4] = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            Err(std::io::Error::new(e.kind(), format!("{e}: {text}")))
        }
    }
}

fn attached(cg: &OwnedFd) -> std::io::Result<Vec<u32>> {
    let mut ids = [0u32; 64];
    let mut attr = [0u64; 16];
    attr[0] = u32s(fd_field(cg)?, BPF_CGROUP_DEVICE);
    // query_flags, attach_flags at word 1; prog_ids pointer at word 2; prog_cnt at word 3.
    attr[2] = ids.as_mut_ptr() as u64;
    attr[3] = ids.len() as u64;
    bpf(BPF_PROG_QUERY, &mut attr)?;
    let n = (attr[3] & 0xffff_ffff) as usize;
    Ok(ids[..n.min(ids.len())].to_vec())
}

/// Replaces the device programs attached to the cgroup directory `dir` with one for `rules`.
pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let err = |msg: String| Error::Cgroup {
        path: dir.to_path_buf(),
        msg,
    };
    let cg = std::fs::File::open(dir).map_err(|e| err(format!("open: {e}")))?;
    let cg = OwnedFd::from(cg);
    let old = attached(&cg).unwrap_or_default();
    let prog = load(&program(rules)?).map_err(|e| err(format!("load device eBPF program: {e}")))?;
    let attach = || -> std::io::Result<i64> {
        let mut attr = [0u64; 16];
        attr[0] = u32s(fd_field(&cg)?, fd_field(&prog)?);
        attr[1] = u32s(BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
        bpf(BPF_PROG_ATTACH, &mut attr)
    };
    attach().map_err(|e| err(format!("attach device program: {e}")))?;
    for id in old {
        let mut a = [0u64; 16];
        a[0] = u64::from(id);
        let Ok(old_fd) = bpf_fd(BPF_PROG_GET_FD_BY_ID, &mut a) else {
            continue;
        };
        let (Ok(cg_field), Ok(old_field)) = (fd_field(&cg), fd_field(&old_fd)) else {
            continue;
        };
        let mut d = [0u64; 16];
        d[0] = u32s(cg_field, old_field);
        d[1] = u64::from(BPF_CGROUP_DEVICE);
        let _ = bpf(BPF_PROG_DETACH, &mut d);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn jumps_land_on_the_next_block() {
        let rules = vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .access("rw")
                .build()
                .unwrap(),
        ];
        let p = program(&rules).unwrap();
        // header (6) + block for c 1:3 rw (type, 3 access, major, minor, mov, exit = 8)
        // + deny-all block (mov, exit), which ends the program.
        assert_eq!(p.len(), 6 + 8 + 2);
        // The type check of the first block jumps over the 7 instructions after it.
        assert_eq!(p[6].code, JNE_K);
        assert_eq!(p[6].off, 7);
        assert_eq!(p[14].imm, 0); // deny-all returns 0
    }

    #[test]
    fn device_numbers_beyond_an_immediate_are_refused() {
        let rule = |major: i64| {
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(major)
                .build()
                .unwrap()
        };
        assert!(program(&[rule(-1)]).is_ok());
        assert!(program(&[rule(i64::from(i32::MAX))]).is_ok());
        let e = program(&[rule(1 << 32)]).unwrap_err().to_string();
        assert!(
            e.contains("major") && e.contains("4294967296 is out of range"),
            "{e}"
        );
        assert_eq!(rule_number(Some(-5), String::new).unwrap(), None);
        assert_eq!(rule_number(None, String::new).unwrap(), None);
    }

    /// Loads a program into a real cgroup2 directory (the unified hierarchy of a hybrid host
    /// works too) and checks that a process in it is denied /dev/zero but not /dev/null.
    #[test]
    #[ignore = "needs root"]
    fn program_is_enforced_by_the_kernel() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "needs root: run with --include-ignored"
        );
        let base = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists())
            .expect("a cgroup2 mount (every supported host has one, hybrid included)");
        let dir = base.join(format!("berth-bpf-test-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir(&self.0);
            }
        }
        let _c = Cleanup(dir.clone());
        let rules = vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .access("rw")
                .build()
                .unwrap(),
        ];
        apply(&dir, &rules).unwrap();
        // Applying again replaces the program instead of stacking another one.
        apply(&dir, &rules).unwrap();
        let cg = OwnedFd::from(std::fs::File::open(&dir).unwrap());
        assert_eq!(attached(&cg).unwrap().len(), 1);
        let script = format!(
            "echo $$ > {}/cgroup.procs && head -c 1 /dev/null && echo null-ok; \
             head -c 1 /dev/zero >/dev/null 2>&1 && echo zero-ok || echo zero-denied",
            dir.display()
        );
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.contains("null-ok") && out.contains("zero-denied"),
            "{out}"
        );
    }
}
