//! `--init`: berth-init runs as pid 1 of a busybox container, forwards signals to the
//! command, reaps orphaned zombies and passes exit codes through. Root only; see
//! env.rs for what is needed.

use super::env::{Env, wait_for};
use crate::config::{ContainerConfig, MountKind};
use crate::spec::ResolvedMount;

fn init_cfg() -> ContainerConfig {
    let mut cfg = ContainerConfig::default();
    cfg.host.init = true;
    cfg
}

#[test]
#[ignore = "needs root"]
fn init_is_pid_1() {
    let env = Env::new();
    let out = env.ok(
        &init_cfg(),
        &[],
        "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$; cat /proc/$$/stat | cut -d' ' -f4",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("/sbin/berth-init -- sh -c "),
        "pid 1 is berth-init: {out}"
    );
    assert_ne!(lines[1], "1", "the command is not pid 1: {out}");
    assert_eq!(lines[2], "1", "the command's parent is berth-init: {out}");
}

#[test]
#[ignore = "needs root"]
fn exit_codes_pass_through() {
    let env = Env::new();
    assert_eq!(env.run(&init_cfg(), &[], "exit 7").code, 7);
    assert_eq!(env.run(&init_cfg(), &[], "exit 0").code, 0);
    assert_eq!(env.run(&init_cfg(), &[], "kill -KILL $$").code, 137);
    let mut cfg = init_cfg();
    cfg.entrypoint = Some(vec!["/no/such/program".into()]);
    let (id, bundle) = env.bundle(&cfg, &[]);
    let (child, o, e) = env.spawn(&id, &bundle);
    let out = env.finish(child, &o, &e);
    assert_eq!(out.code, 127, "{out:?}");
    assert!(
        out.stderr
            .contains("berth-init: exec /no/such/program failed"),
        "{out:?}"
    );
}

#[test]
#[ignore = "needs root"]
fn signals_reach_the_command() {
    let env = Env::new();
    let shared = env.tmp.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let mounts = vec![ResolvedMount {
        kind: MountKind::Bind,
        source: shared.clone(),
        target: "/shared".into(),
        ..Default::default()
    }];
    for (sig, code, word) in [
        ("TERM", 3, "got-term"),
        ("USR1", 4, "got-usr1"),
        ("HUP", 5, "got-hup"),
    ] {
        let _ = std::fs::remove_file(shared.join("ready"));
        let mut cfg = init_cfg();
        cfg.cmd = Some(vec![
            "sh".into(),
            "-c".into(),
            format!(
                "trap 'echo {word}; exit {code}' {sig}; touch /shared/ready; \
                 while true; do sleep 0.05; done"
            ),
        ]);
        let (id, bundle) = env.bundle(&cfg, &mounts);
        let (child, o, e) = env.spawn(&id, &bundle);
        wait_for(&shared.join("ready"));
        // The signal goes to pid 1 (berth-init), which passes it on.
        env.kill(&id, sig);
        let out = env.finish(child, &o, &e);
        assert_eq!(out.code, code, "{sig}: {out:?}");
        assert_eq!(out.stdout.trim(), word, "{sig}: {out:?}");
    }
}

#[test]
#[ignore = "needs root"]
fn orphans_are_reaped() {
    let env = Env::new();
    // The inner shell exits at once: its background sleeps become berth-init's children,
    // and once they exit, nobody but pid 1 can reap them.
    let out = env.ok(
        &init_cfg(),
        &[],
        "sh -c 'sleep 0.2 & sleep 0.2 & sleep 0.2 &'; sleep 1; \
         cat /proc/[0-9]*/status 2>/dev/null | grep -c '^State:.Z'; \
         ls -d /proc/[0-9]* | wc -l",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "no zombies: {out}");
    // berth-init, sh, and the cat/grep/ls/wc of the pipeline at most.
    let n: u32 = lines[1].trim().parse().unwrap_or(99);
    assert!(n <= 6, "only the live processes are left: {out}");
}
