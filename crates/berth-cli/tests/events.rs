//! Events the differential test cannot show: where current Docker (28) differs from the
//! 20.10 daemon it compares with (a volume's `unmount` before the container's `die`, one
//! `create` per volume, `execDuration`), and events that come after the command that
//! caused them has returned (a detached exec's end, a health check's execs).

mod common;

use common::Env;

/// `events` from the start to now, of `filters`, as `format` prints them.
fn events(env: &Env, filters: &[&str], format: &str) -> String {
    let mut args = vec![
        "events", "--since", "0", "--until", "0s", "--format", format,
    ];
    for f in filters {
        args.extend(["--filter", f]);
    }
    env.b.ok(&args)
}

#[test]
#[ignore = "needs root"]
fn volume_events_are_current_dockers() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["volume", "create", "ev-vol"]);
    // Naming an existing volume creates nothing.
    b.ok(&[
        "run",
        "--rm",
        "--name",
        "ev-c1",
        "-v",
        "ev-vol:/data",
        "busybox",
        "true",
    ]);
    // A new one is made when the container is created, before its `create`.
    b.ok(&[
        "create",
        "--name",
        "ev-c2",
        "-v",
        "ev-new:/data:ro",
        "busybox",
        "true",
    ]);
    b.ok(&["rm", "ev-c2"]);
    b.ok(&["volume", "rm", "ev-vol", "ev-new"]);
    // A missing attribute prints Go's "<no value>": volumes have no name, containers no
    // driver.
    let got = events(
        &env,
        &["type=container", "type=volume"],
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}{{.Actor.Attributes.driver}}",
    );
    assert_eq!(
        got,
        "volume create <no value>local\n\
         container create ev-c1<no value>\n\
         container attach ev-c1<no value>\n\
         volume mount <no value>local\n\
         container start ev-c1<no value>\n\
         volume unmount <no value>local\n\
         container die ev-c1<no value>\n\
         container destroy ev-c1<no value>\n\
         volume create <no value>local\n\
         container create ev-c2<no value>\n\
         container destroy ev-c2<no value>\n\
         volume destroy <no value>local\n\
         volume destroy <no value>local\n"
    );
    // Mounts and unmounts say which container, where and how.
    let mounts = events(
        &env,
        &["type=volume", "event=mount"],
        "{{.Actor.ID}} {{.Actor.Attributes.destination}} {{index .Actor.Attributes \"read/write\"}} {{len (index .Actor.Attributes \"container\")}}",
    );
    assert_eq!(mounts, "ev-vol /data true 64\n");
    // The die carries how long the run lasted, in whole seconds.
    let die = events(
        &env,
        &["event=die"],
        "{{.Actor.Attributes.exitCode}} {{.Actor.Attributes.execDuration}}",
    );
    assert_eq!(die, "0 0\n");
}

#[test]
#[ignore = "needs root"]
fn detached_exec_records_its_end() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["run", "-d", "--name", "ev-x", "busybox", "sleep", "100"]);
    b.ok(&["exec", "-d", "ev-x", "sh", "-c", "sleep 0.2; exit 4"]);
    let ended = || events(&env, &["event=exec_die"], "{{.Actor.Attributes.exitCode}}");
    env.wait_for(10, "the detached exec's exec_die", || ended() == "4\n");
    // The three events share the exec's ID.
    let ids = events(
        &env,
        &["container=ev-x"],
        "{{.Action}}|{{.Actor.Attributes.execID}}",
    );
    let execs: Vec<&str> = ids.lines().filter(|l| l.starts_with("exec_")).collect();
    assert_eq!(execs.len(), 3, "{ids}");
    let id = execs[0].split('|').nth(1).unwrap();
    assert_eq!(id.len(), 64, "{ids}");
    assert!(execs.iter().all(|l| l.ends_with(id)), "{ids}");
    assert_eq!(
        execs[0].split('|').next(),
        Some("exec_create: sh -c sleep 0.2; exit 4")
    );
    b.ok(&["rm", "-f", "ev-x"]);
}

#[test]
#[ignore = "needs root"]
fn health_checks_are_execs() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&[
        "run",
        "-d",
        "--name",
        "ev-hc",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "100",
    ]);
    let status = || env.field("ev-hc", "{{.State.Health.Status}}");
    env.wait_for(10, "healthy", || status() == "healthy");
    let got = events(
        &env,
        &["container=ev-hc"],
        "{{.Action}} {{.Actor.Attributes.exitCode}}",
    );
    let lines: Vec<&str> = got.lines().collect();
    // As Docker's: each check is an exec of the shell form, and the status change follows.
    let first = lines
        .iter()
        .position(|l| l.starts_with("exec_create"))
        .unwrap();
    assert_eq!(
        &lines[first..first + 4],
        [
            "exec_create: /bin/sh -c true <no value>",
            "exec_start: /bin/sh -c true <no value>",
            "exec_die 0",
            "health_status: healthy <no value>",
        ],
        "{got}"
    );
    b.ok(&["rm", "-f", "ev-hc"]);
}

#[test]
#[ignore = "needs root"]
fn filters_and_bounds() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["run", "--name", "ev-f1", "-l", "team=a", "busybox", "true"]);
    b.ok(&["run", "--name", "ev-f12", "busybox", "true"]);
    // A container filter matches names it prefixes, as Docker's does; labels are
    // attributes.
    let names = |f: &[&str]| events(&env, f, "{{.Actor.Attributes.name}} {{.Action}}");
    assert_eq!(
        names(&["container=ev-f1", "event=create"]),
        "ev-f1 create\nev-f12 create\n"
    );
    assert_eq!(names(&["label=team=a", "event=die"]), "ev-f1 die\n");
    assert_eq!(
        names(&["image=busybox", "event=die"]),
        "ev-f1 die\nev-f12 die\n"
    );
    assert_eq!(names(&["image=nosuch"]), "");
    // A negative duration is a time to come: the stream waits for it, then ends.
    let out = b.ok(&[
        "events",
        "--since",
        "0",
        "--until=-1s",
        "--filter",
        "event=start",
        "--format",
        "{{.Actor.Attributes.name}}",
    ]);
    assert_eq!(out, "ev-f1\nev-f12\n");
    // Unknown filters are refused, naming the key; nothing is streamed.
    let (code, out, err) = b.run(&[
        "events", "--since", "0", "--until", "0s", "--filter", "bogus=1",
    ]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.to_lowercase().contains("invalid filter 'bogus'"),
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn kill_thaws_a_paused_container() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["run", "-d", "--name", "ev-p", "busybox", "sleep", "100"]);
    b.ok(&["pause", "ev-p"]);
    // SIGKILL thaws it, as Docker's daemon does: the container dies now.
    b.ok(&["kill", "ev-p"]);
    assert_eq!(b.ok(&["wait", "ev-p"]).trim(), "137");
    let got = events(
        &env,
        &["container=ev-p"],
        "{{.Action}} {{.Actor.Attributes.signal}}",
    );
    let tail: Vec<&str> = got
        .lines()
        .skip_while(|l| !l.starts_with("pause"))
        .collect();
    assert_eq!(
        tail,
        [
            "pause <no value>",
            "unpause <no value>",
            "kill 9",
            "die <no value>"
        ],
        "{got}"
    );
    // A rename to the same name is refused, and records nothing.
    let (code, _, err) = b.run(&["rename", "ev-p", "ev-p"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("same name as its current name"), "{err}");
    assert_eq!(events(&env, &["event=rename"], "{{.Action}}"), "");
    b.ok(&["rm", "ev-p"]);
}
