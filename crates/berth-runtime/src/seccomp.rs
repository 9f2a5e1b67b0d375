//! Seccomp filters from the spec: compiled with libseccomp in the runtime process (so errors
//! surface at create) and loaded in the container process just before it executes.

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::error::{Error, Result};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const FLAG_TSYNC: libc::c_ulong = 1;
const FLAG_LOG: libc::c_ulong = 2;
const FLAG_SPEC_ALLOW: libc::c_ulong = 4;
const FLAG_NEW_LISTENER: libc::c_ulong = 8;
const FLAG_WAIT_KILLABLE_RECV: libc::c_ulong = 32;

/// A compiled filter, ready to load.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The classic BPF program (struct sock_filter array).
    pub program: Vec<u8>,
    /// Flags for seccomp(2).
    pub flags: libc::c_ulong,
    /// Where to send the notify descriptor, when a rule uses SCMP_ACT_NOTIFY.
    pub listener: Option<PathBuf>,
    /// Opaque metadata sent with the notify descriptor.
    pub listener_metadata: String,
}

fn sc_err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::Seccomp(format!("{what}: {e}"))
}

fn to_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The errno of SCMP_ACT_ERRNO (and the message of SCMP_ACT_TRACE) when errnoRet is absent.
const EPERM: u16 = 1;

/// What an errno or trace action returns: errnoRet (`field` names it), EPERM when absent.
/// The kernel keeps 16 bits (SECCOMP_RET_DATA): larger values are refused, not truncated.
fn ret_data(errno: Option<u32>, field: impl FnOnce() -> String) -> Result<u16> {
    match errno {
        None => Ok(EPERM),
        Some(e) => u16::try_from(e)
            .map_err(|_| Error::spec(field(), format!("{e} is out of range 0-{}", u16::MAX))),
    }
}

fn action(
    a: LinuxSeccompAction,
    errno: Option<u32>,
    field: impl FnOnce() -> String,
) -> Result<ScmpAction> {
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(ret_data(errno, field)?)),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret_data(errno, field)?),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

/// Compiles the spec's filter, reusing an earlier compilation of the same filter from
/// `cache_dir` (libseccomp needs ~15 ms for Docker's default profile; loading the result
/// takes microseconds). The key covers the filter, libseccomp's version and the kernel, so
/// a change of any of them compiles afresh. Filters with a notify listener are not cached.
pub fn compile_cached(s: &LinuxSeccomp, cache_dir: &std::path::Path) -> Result<Compiled> {
    use sha2::Digest;
    if s.listener_path().is_some() {
        return compile(s);
    }
    let v =
        libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro));
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(s).unwrap_or_default());
    h.update(format!("\0{}\0{kernel}", v.unwrap_or_default()));
    let path = cache_dir.join(format!("{}.bpf", hex::encode(h.finalize())));
    if let Ok(data) = std::fs::read(&path)
        && data.len() > 8
        && (data.len() - 8) % 8 == 0
    {
        let mut fl = [0u8; 8];
        fl.copy_from_slice(&data[..8]);
        return Ok(Compiled {
            program: data[8..].to_vec(),
            flags: u64::from_le_bytes(fl) as libc::c_ulong,
            listener: None,
            listener_metadata: String::new(),
        });
    }
    let c = compile(s)?;
    let mut data = (c.flags as u64).to_le_bytes().to_vec();
    data.extend_from_slice(&c.program);
    // A cache that cannot be written only costs time.
    let _ = std::fs::create_dir_all(cache_dir).and_then(|_| {
        crate::util::write_private(&path, &data).map_err(|e| std::io::Error::other(e.to_string()))
    });
    Ok(c)
}

/// Compiles the spec's filter.
pub fn compile(s: &LinuxSeccomp) -> Result<Compiled> {
    let default = action(s.default_action(), s.default_errno_ret(), || {
        "linux.seccomp.defaultErrnoRet".into()
    })?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| sc_err("create filter", e))?;
    for a in s.architectures().as_deref().unwrap_or(&[]) {
        let name = to_name(a);
        let arch =
            ScmpArch::from_str(&name).map_err(|e| sc_err(format!("architecture {name}"), e))?;
        let present = ctx.is_arch_present(arch).unwrap_or(false);
        if !present {
            ctx.add_arch(arch)
                .map_err(|e| sc_err(format!("add architecture {name}"), e))?;
        }
    }
    let mut uses_notify = default == ScmpAction::Notify;
    for (i, rule) in s.syscalls().as_deref().unwrap_or(&[]).iter().enumerate() {
        let field = |name: &str| format!("linux.seccomp.syscalls[{i}].{name}");
        let act = action(rule.action(), rule.errno_ret(), || field("errnoRet"))?;
        if act == default {
            continue;
        }
        uses_notify |= act == ScmpAction::Notify;
        let args = rule.args().as_deref().unwrap_or(&[]);
        let conds: Vec<(usize, ScmpArgCompare)> = args
            .iter()
            .enumerate()
            .map(|(j, a)| {
                let index = u32::try_from(a.index()).map_err(|_| {
                    Error::spec(
                        field(&format!("args[{j}].index")),
                        format!("{} is out of range 0-5", a.index()),
                    )
                })?;
                let c = ScmpArgCompare::new(
                    index,
                    cmp_op(a.op(), a.value()),
                    datum(a.op(), a.value(), a.value_two()),
                );
                Ok((a.index(), c))
            })
            .collect::<Result<_>>()?;
        let same_index = {
            let mut idx: Vec<usize> = conds.iter().map(|(i, _)| *i).collect();
            idx.sort_unstable();
            idx.windows(2).any(|w| w[0] == w[1])
        };
        for name in rule.names() {
            // Syscalls this libseccomp does not know (newer or other-arch names) are skipped,
            // as runc does: profiles list them for forward compatibility.
            let Ok(sys) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let res = if conds.is_empty() {
                ctx.add_rule(act, sys).map(|_| ())
            } else if same_index {
                // Conditions on one argument are alternatives: one rule each.
                conds.iter().try_for_each(|(_, c)| {
                    ctx.add_rule_conditional(act, sys, std::slice::from_ref(c))
                        .map(|_| ())
                })
            } else {
                let cs: Vec<ScmpArgCompare> = conds.iter().map(|(_, c)| *c).collect();
                ctx.add_rule_conditional(act, sys, &cs).map(|_| ())
            };
            res.map_err(|e| sc_err(format!("rule for {name}"), e))?;
        }
    }
    let mut flags = 0;
    for f in s.flags().as_deref().unwrap_or(&[]) {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        };
    }
    if uses_notify {
        if s.listener_path().is_none() {
            return Err(Error::spec(
                "linux.seccomp.listenerPath",
                "required when a rule uses SCMP_ACT_NOTIFY",
            ));
        }
        flags |= FLAG_NEW_LISTENER;
        // The kernel refuses TSYNC together with NEW_LISTENER; we have one thread anyway.
        flags &= !FLAG_TSYNC;
    }
    let program = export(&ctx)?;
    Ok(Compiled {
        program,
        flags,
        listener: s.listener_path().clone(),
        listener_metadata: s.listener_metadata().clone().unwrap_or_default(),
    })
}

fn cmp_op(o: LinuxSeccompOperator, value: u64) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value),
    }
}

fn datum(o: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> u64 {
    match o {
        LinuxSeccompOperator::ScmpCmpMaskedEq => value_two.unwrap_or(0),
        _ => value,
    }
}

fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>> {
    let fd =
        nix::sys::memfd::memfd_create(c"berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| sc_err("memfd", e))?;
    let mut f = std::fs::File::from(fd);
    ctx.export_bpf(&f).map_err(|e| sc_err("export filter", e))?;
    let mut out = Vec::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_end(&mut out))
        .map_err(|e| sc_err("read exported filter", e))?;
    if out.is_empty() || out.len() % 8 != 0 {
        return Err(Error::Seccomp(format!(
            "exported filter has odd size {}",
            out.len()
        )));
    }
    Ok(out)
}

/// Loads a compiled filter into the calling thread. Returns the notify descriptor when the
/// filter has SCMP_ACT_NOTIFY rules.
pub fn load(c: &Compiled) -> Result<Option<OwnedFd>> {
    #[repr(C)]
    struct SockFprog {
        len: libc::c_ushort,
        filter: *const u8,
    }
    let prog = SockFprog {
        len: insn_count(&c.program)?,
        filter: c.program.as_ptr(),
    };
    // SAFETY: `prog` points at a valid sock_filter array of `len` entries that outlives the
    // call; seccomp(2) copies it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            c.flags,
            &prog as *const SockFprog,
        )
    };
    if r < 0 {
        return Err(sc_err("load filter", std::io::Error::last_os_error()));
    }
    if c.flags & FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER, seccomp(2) returns a new descriptor that we own.
        let fd = unsafe { crate::util::owned_fd(r) };
        return fd.map(Some).map_err(|e| sc_err("notify descriptor", e));
    }
    Ok(None)
}

/// The instruction count of a program (struct sock_filter is 8 bytes) as sock_fprog takes
/// it: a longer program is refused rather than loaded cut short.
fn insn_count(program: &[u8]) -> Result<libc::c_ushort> {
    let n = program.len() / 8;
    libc::c_ushort::try_from(n).map_err(|_| {
        sc_err(
            "load filter",
            format!(
                "{n} instructions are more than a filter holds ({})",
                u16::MAX
            ),
        )
    })
}

/// Names of the actions, operators and flags this runtime supports (for `features`).
pub fn supported() -> (Vec<&'static str>, Vec<&'static str>, Vec<&'static str>) {
    (
        vec![
            "SCMP_ACT_ALLOW",
            "SCMP_ACT_ERRNO",
            "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG",
            "SCMP_ACT_NOTIFY",
            "SCMP_ACT_TRACE",
            "SCMP_ACT_TRAP",
        ],
        vec![
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
            "SCMP_CMP_LE",
            "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE",
        ],
        vec![
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_ret_must_fit_seccomp_ret_data() {
        assert_eq!(i32::from(EPERM), libc::EPERM);
        let errno = |e| action(LinuxSeccompAction::ScmpActErrno, e, || "f".into());
        assert_eq!(errno(None).unwrap(), ScmpAction::Errno(libc::EPERM));
        assert_eq!(errno(Some(38)).unwrap(), ScmpAction::Errno(38));
        let e = errno(Some(65536)).unwrap_err().to_string();
        assert_eq!(e, "config.json: f: 65536 is out of range 0-65535");
        let trace = action(LinuxSeccompAction::ScmpActTrace, Some(u32::MAX), || {
            "g".into()
        });
        assert!(trace.is_err());
        // Actions that return no data ignore errnoRet.
        let allow = action(LinuxSeccompAction::ScmpActAllow, Some(u32::MAX), || {
            "h".into()
        });
        assert_eq!(allow.unwrap(), ScmpAction::Allow);
    }

    #[test]
    fn errno_ret_errors_name_the_rule() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}"#,
        )
        .unwrap();
        let e = compile(&s).unwrap_err().to_string();
        assert_eq!(
            e,
            "config.json: linux.seccomp.syscalls[1].errnoRet: 70000 is out of range 0-65535"
        );
    }

    #[test]
    fn programs_too_long_for_sock_fprog_are_refused() {
        assert_eq!(insn_count(&[0; 16]).unwrap(), 2);
        assert_eq!(insn_count(&vec![0; 65535 * 8]).unwrap(), 65535);
        let e = insn_count(&vec![0; 65536 * 8]).unwrap_err().to_string();
        assert!(
            e.contains("65536 instructions are more than a filter holds"),
            "{e}"
        );
    }
}
