//! Docker's default seccomp profile, as Berth's own table: an allow list with EPERM for
//! everything else, argument filters for `personality`, `socket` and `clone`, `clone3`
//! answered with ENOSYS (so libcs fall back to `clone`, whose flags can be checked), and
//! groups of system calls unlocked by the capability that governs them. The io_uring calls
//! are not allowed, as in current Docker.

use oci_spec::runtime::{
    Arch, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompOperator,
};

use super::seccomp::{ArchMap, Filter, KernelVersion, Profile, Rule};

/// System calls every container may make.
const ALLOW: &str = "\
    accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 \
    clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime \
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect \
    copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old \
    epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit \
    exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir \
    fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr \
    flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 \
    fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv \
    futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid \
    geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp \
    getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 \
    getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid \
    gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 \
    inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents \
    io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule \
    landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat \
    listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise \
    map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat \
    mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open \
    mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap \
    msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep \
    newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 \
    pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 \
    prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read \
    readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg \
    remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq \
    rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend \
    rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity \
    sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min \
    sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity \
    sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget \
    semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto \
    setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer \
    setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 \
    setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area \
    set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack \
    signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs \
    statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time \
    timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime \
    timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime \
    timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat \
    utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev";

/// System calls unlocked by a capability (in the bounding set).
const BY_CAPABILITY: &[(&str, &str)] = &[
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    (
        "CAP_SYS_ADMIN",
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount \
         mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname \
         sethostname setns syslog umount umount2 unshare",
    ),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    (
        "CAP_SYS_PTRACE",
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    ),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    (
        "CAP_SYS_TIME",
        "settimeofday stime clock_settime clock_settime64",
    ),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    (
        "CAP_SYS_NICE",
        "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    ),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
];

/// System calls for particular architectures (Go's names).
const BY_ARCH: &[(&[&str], &str)] = &[
    (&["ppc64le"], "sync_file_range2 swapcontext"),
    (
        &["arm", "arm64"],
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
    ),
    (&["amd64", "x32"], "arch_prctl"),
    (&["amd64", "x32", "x86"], "modify_ldt"),
    (
        &["s390", "s390x"],
        "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
    ),
    (&["riscv64"], "riscv_flush_icache"),
];

/// The personalities a container may select: Linux, with ADDR_NO_RANDOMIZE, UNAME26 or
/// both, and the query value 0xffffffff.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
/// | CLONE_NEWCGROUP: `clone` may not create namespaces without CAP_SYS_ADMIN.
const CLONE_NS_FLAGS: u64 =
    0x0002_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000 | 0x0200_0000;

const AF_VSOCK: u64 = 40;
const ENOSYS: u32 = 38;
const EPERM: u32 = 1;

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn strs(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

fn arg(index: usize, value: u64, value_two: u64, op: LinuxSeccompOperator) -> LinuxSeccompArg {
    // The builder cannot fail: every field has a value.
    LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .value_two(value_two)
        .op(op)
        .build()
        .unwrap_or_default()
}

fn allow(names: Vec<String>) -> Rule {
    Rule {
        name: None,
        names: Some(names),
        action: LinuxSeccompAction::ScmpActAllow,
        errno_ret: None,
        args: None,
        includes: None,
        excludes: None,
    }
}

fn filter(caps: &[&str], arches: &[&str], min_kernel: Option<KernelVersion>) -> Option<Filter> {
    Some(Filter {
        caps: (!caps.is_empty()).then(|| strs(caps)).flatten(),
        arches: (!arches.is_empty()).then(|| strs(arches)).flatten(),
        min_kernel,
    })
}

/// Docker's default profile.
pub(crate) fn profile() -> Profile {
    use LinuxSeccompOperator::{ScmpCmpEq, ScmpCmpMaskedEq, ScmpCmpNe};
    let mut rules = vec![allow(words(ALLOW))];
    rules.push(Rule {
        includes: filter(&[], &[], Some(KernelVersion(4, 8))),
        ..allow(words("process_vm_readv process_vm_writev ptrace"))
    });
    rules.push(Rule {
        args: Some(vec![arg(0, AF_VSOCK, 0, ScmpCmpNe)]),
        ..allow(words("socket"))
    });
    for p in PERSONALITIES {
        rules.push(Rule {
            args: Some(vec![arg(0, p, 0, ScmpCmpEq)]),
            ..allow(words("personality"))
        });
    }
    for (arches, names) in BY_ARCH {
        rules.push(Rule {
            includes: filter(&[], arches, None),
            ..allow(words(names))
        });
    }
    for (cap, names) in BY_CAPABILITY {
        rules.push(Rule {
            includes: filter(&[cap], &[], None),
            ..allow(words(names))
        });
    }
    // Without CAP_SYS_ADMIN, clone only without namespace flags (argument 1 on s390).
    rules.push(Rule {
        args: Some(vec![arg(0, CLONE_NS_FLAGS, 0, ScmpCmpMaskedEq)]),
        excludes: filter(&["CAP_SYS_ADMIN"], &["s390", "s390x"], None),
        ..allow(words("clone"))
    });
    rules.push(Rule {
        args: Some(vec![arg(1, CLONE_NS_FLAGS, 0, ScmpCmpMaskedEq)]),
        includes: filter(&[], &["s390", "s390x"], None),
        excludes: filter(&["CAP_SYS_ADMIN"], &[], None),
        ..allow(words("clone"))
    });
    // clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes libcs
    // fall back to clone.
    rules.push(Rule {
        action: LinuxSeccompAction::ScmpActErrno,
        errno_ret: Some(ENOSYS),
        excludes: filter(&["CAP_SYS_ADMIN"], &[], None),
        ..allow(words("clone3"))
    });
    let map = |a: Arch, subs: &[Arch]| ArchMap {
        architecture: a,
        sub_architectures: Some(subs.to_vec()),
    };
    Profile {
        default_action: LinuxSeccompAction::ScmpActErrno,
        default_errno_ret: Some(EPERM),
        architectures: None,
        arch_map: Some(vec![
            map(
                Arch::ScmpArchX86_64,
                &[Arch::ScmpArchX86, Arch::ScmpArchX32],
            ),
            map(Arch::ScmpArchAarch64, &[Arch::ScmpArchArm]),
            map(
                Arch::ScmpArchMips64,
                &[Arch::ScmpArchMips, Arch::ScmpArchMips64n32],
            ),
            map(
                Arch::ScmpArchMips64n32,
                &[Arch::ScmpArchMips, Arch::ScmpArchMips64],
            ),
            map(
                Arch::ScmpArchMipsel64,
                &[Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64n32],
            ),
            map(
                Arch::ScmpArchMipsel64n32,
                &[Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64],
            ),
            map(Arch::ScmpArchS390x, &[Arch::ScmpArchS390]),
            map(Arch::ScmpArchRiscv64, &[]),
        ]),
        flags: None,
        listener_path: None,
        listener_metadata: None,
        syscalls: Some(rules),
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxSeccomp, LinuxSyscall};

    use super::*;
    use crate::spec::caps::DEFAULT_CAPS;

    fn resolve(caps: &[&str]) -> LinuxSeccomp {
        let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
        profile().resolve(&caps, "amd64", (6, 1))
    }

    fn rules_for<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        s.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.names().iter().any(|n| n == name))
            .collect()
    }

    #[test]
    fn default_shape() {
        let s = resolve(&DEFAULT_CAPS);
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().clone().unwrap(),
            [Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        let allowed = words(ALLOW);
        assert!(allowed.len() > 330, "{}", allowed.len());
        let mut sorted = allowed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), allowed.len(), "no duplicates");
        for gone in [
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "mount",
            "unshare",
        ] {
            assert!(rules_for(&s, gone).is_empty(), "{gone} must not be allowed");
        }
        for ok in [
            "read",
            "mkdir",
            "arch_prctl",
            "modify_ldt",
            "ptrace",
            "chroot",
        ] {
            assert!(!rules_for(&s, ok).is_empty(), "{ok}");
        }
        assert!(rules_for(&s, "cacheflush").is_empty());
        // clone only without namespace flags; clone3 answers ENOSYS.
        let clone = rules_for(&s, "clone");
        assert_eq!(clone.len(), 1);
        let a = clone[0].args().clone().unwrap();
        assert_eq!(
            (a[0].index(), a[0].value(), a[0].value_two()),
            (0, 2114060288, Some(0))
        );
        assert_eq!(a[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        let c3 = rules_for(&s, "clone3");
        assert_eq!(c3.len(), 1);
        assert_eq!(c3[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(c3[0].errno_ret(), Some(38));
        assert_eq!(rules_for(&s, "personality").len(), 5);
        let sock = rules_for(&s, "socket");
        assert_eq!(
            sock[0].args().clone().unwrap()[0].op(),
            LinuxSeccompOperator::ScmpCmpNe
        );
    }

    #[test]
    fn capabilities_unlock_groups() {
        let s = resolve(&[
            "CAP_SYS_ADMIN",
            "CAP_SYS_PTRACE",
            "CAP_SYS_TIME",
            "CAP_SYSLOG",
        ]);
        for ok in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "clone3",
            "kcmp",
            "clock_settime",
            "syslog",
        ] {
            assert!(!rules_for(&s, ok).is_empty(), "{ok}");
        }
        let clone = rules_for(&s, "clone");
        assert!(
            clone.iter().all(|r| r.args().is_none()),
            "clone unconditional"
        );
        assert!(
            rules_for(&s, "clone3")
                .iter()
                .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow)
        );
        for no in [
            "reboot",
            "init_module",
            "acct",
            "iopl",
            "open_by_handle_at",
            "chroot",
        ] {
            assert!(rules_for(&s, no).is_empty(), "{no}");
        }
        let old_kernel = profile().resolve(&[], "amd64", (4, 4));
        assert!(rules_for(&old_kernel, "ptrace").is_empty());
    }

    #[test]
    fn compiles_with_the_runtime() {
        berth_runtime::seccomp::compile(&resolve(&DEFAULT_CAPS)).unwrap();
        let all: Vec<&str> = crate::spec::caps::ALL.to_vec();
        berth_runtime::seccomp::compile(&resolve(&all)).unwrap();
        berth_runtime::seccomp::compile(&resolve(&[])).unwrap();
        for arch in ["arm64", "s390x", "riscv64", "ppc64le"] {
            let s = profile().resolve(&[], arch, (6, 1));
            assert!(!rules_for(&s, "read").is_empty());
        }
    }
}
