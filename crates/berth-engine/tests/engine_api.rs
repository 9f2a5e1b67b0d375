//! The engine interface as a front end uses it: from many threads at once, with Docker's
//! filters, the inspect model, cancellable waits and streams. Real containers: run as root
//! with `--include-ignored`.

mod engine_common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use berth_engine::filters::Filters;
use berth_engine::logs::LogsOptions;
use berth_engine::{Cancel, Engine, ErrorKind, ListOptions, StartMode, StatsTargets, Status};
use engine_common::Env;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn engine_is_send_and_sync() {
    assert_send_sync::<Engine>();
    assert_send_sync::<Cancel>();
}

fn logs_of(e: &Engine, id: &str) -> String {
    let mut out = String::new();
    e.logs(id, &LogsOptions::default(), &Cancel::new(), |r| {
        out.push_str(&r.log);
        true
    })
    .expect("logs");
    out
}

#[test]
#[ignore = "needs root"]
fn one_engine_serves_many_threads() {
    let env = Env::new();
    let e = &env.engine;
    let n = 8;
    std::thread::scope(|s| {
        for i in 0..n {
            let env = &env;
            s.spawn(move || {
                let id = env.create(
                    &format!("t{i}"),
                    env.config(&format!("echo hello-{i}; exit {i}")),
                );
                e.start(&id, StartMode::Now).expect("start");
                let code = e.wait(&id, &Cancel::new()).expect("wait");
                assert_eq!(code, i);
                assert_eq!(logs_of(e, &id), format!("hello-{i}\n"));
                e.remove(&id, false, true).expect("rm");
            });
        }
    });
    assert!(e.containers().unwrap().is_empty());
}

#[test]
#[ignore = "needs root"]
fn list_filters_and_status_text() {
    let env = Env::new();
    let e = &env.engine;
    let mut labeled = env.config("exit 3");
    labeled.labels = BTreeMap::from([("tier".to_string(), "db".to_string())]);
    let a = env.create("alpha", labeled);
    let b = env.create("beta", env.config("sleep 30"));
    let c = env.create("gamma", env.config("true"));
    e.start(&a, StartMode::Now).unwrap();
    assert_eq!(e.wait(&a, &Cancel::new()).unwrap(), 3);
    e.start(&b, StartMode::Now).unwrap();
    let list = |all: bool, f: &[&str]| -> Vec<String> {
        e.list(&ListOptions {
            all,
            filters: Filters::parse(f).unwrap(),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect()
    };
    assert_eq!(list(false, &[]), ["beta"]);
    // Newest first.
    assert_eq!(list(true, &[]), ["gamma", "beta", "alpha"]);
    assert_eq!(list(false, &["status=exited"]), ["alpha"]);
    assert_eq!(list(false, &["exited=3"]), ["alpha"]);
    assert_eq!(list(true, &["label=tier=db"]), ["alpha"]);
    assert_eq!(list(true, &["label=tier"]), ["alpha"]);
    assert_eq!(list(true, &["name=amm"]), ["gamma"]);
    assert_eq!(
        list(true, &["status=created", "status=running"]),
        ["gamma", "beta"]
    );
    assert_eq!(list(true, &[&format!("id={}", &c[..10])]), ["gamma"]);
    assert_eq!(
        list(true, &["ancestor=busybox", "before=gamma"]),
        ["beta", "alpha"]
    );
    assert_eq!(list(true, &["since=alpha"]), ["gamma", "beta"]);
    let latest = e
        .list(&ListOptions {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(latest[0].name, "gamma");
    let err = e
        .list(&ListOptions {
            filters: Filters::parse(&["color=red"]).unwrap(),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid filter 'color'");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let rows = e
        .list(&ListOptions {
            all: true,
            size: true,
            ..Default::default()
        })
        .unwrap();
    let status: BTreeMap<&str, &str> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.status.as_str()))
        .collect();
    assert!(status["alpha"].starts_with("Exited (3) "), "{status:?}");
    assert!(status["beta"].starts_with("Up "), "{status:?}");
    assert_eq!(status["gamma"], "Created");
    assert!(
        rows.iter()
            .all(|r| r.size_root_fs >= r.size_rw && r.size_rw.is_some())
    );
    assert_eq!(rows[0].command, "sh -c true");
}

#[test]
#[ignore = "needs root"]
fn inspect_is_dockers_json() {
    let env = Env::new();
    let e = &env.engine;
    let mut cfg = env.config("sleep 30");
    cfg.host.restart_policy.name = berth_engine::config::RestartName::UnlessStopped;
    let id = env.create("web", cfg);
    e.start(&id, StartMode::Now).unwrap();
    let v = serde_json::to_value(e.inspect("web").unwrap()).unwrap();
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Name"], "/web");
    assert_eq!(v["State"]["Status"], "running");
    assert_eq!(v["State"]["OOMKilled"], false);
    assert!(v["State"]["Pid"].as_i64().unwrap() > 0);
    assert_eq!(v["ExecIDs"], serde_json::Value::Null);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(v["HostConfig"]["UTSMode"], "");
    assert!(v["HostConfig"]["BlkioDeviceReadIOps"].is_array());
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "json-file");
    assert_eq!(v["Config"]["Cmd"][2], "sleep 30");
    assert_eq!(v["Config"]["Image"], "busybox");
    assert_eq!(v["NetworkSettings"]["Networks"]["none"]["IPAddress"], "");
    assert_eq!(v["NetworkSettings"]["IPPrefixLen"], 0);
    assert!(v["GraphDriver"]["Data"]["UpperDir"].is_string());
    let missing = e.inspect("nope").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

#[test]
#[ignore = "needs root"]
fn waits_are_cancellable_and_exit_codes_survive_removal() {
    let env = Env::new();
    let e = &env.engine;
    let id = env.create("sleeper", env.config("sleep 30"));
    e.start(&id, StartMode::Now).unwrap();
    let cancel = Cancel::new();
    let t = Instant::now();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| e.wait(&id, &cancel));
        std::thread::sleep(Duration::from_millis(100));
        cancel.cancel();
        let r = waiter.join().unwrap();
        assert!(matches!(r, Err(berth_engine::Error::Cancelled(_))), "{r:?}");
    });
    assert!(t.elapsed() < Duration::from_secs(5));
    // A --rm container is gone when wait returns, yet its exit code is known.
    let mut cfg = env.config("exit 7");
    cfg.host.auto_remove = true;
    let rm = env.create("gone", cfg);
    e.start(&rm, StartMode::Now).unwrap();
    assert_eq!(e.wait(&rm, &Cancel::new()).unwrap(), 7);
    assert!(e.container(&rm).is_err());
    // logs --follow of a running container ends on cancel too.
    let cancel = Cancel::new();
    std::thread::scope(|s| {
        let follower = s.spawn(|| {
            e.logs(
                &id,
                &LogsOptions {
                    follow: true,
                    ..Default::default()
                },
                &cancel,
                |_| true,
            )
        });
        std::thread::sleep(Duration::from_millis(150));
        cancel.cancel();
        assert!(matches!(
            follower.join().unwrap(),
            Err(berth_engine::Error::Cancelled(_))
        ));
    });
}

#[test]
#[ignore = "needs root"]
fn events_stats_top_restart_prune() {
    let env = Env::new();
    let e = &env.engine;
    let id = env.create("svc", env.config("sleep 30"));
    e.start(&id, StartMode::Now).unwrap();
    // Stats: one round, then the sink says stop.
    let mut rounds = 0;
    e.stats_stream(&StatsTargets::default(), &Cancel::new(), |rows| {
        rounds += 1;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "svc");
        assert!(rows[0].pids >= 1, "{:?}", rows[0]);
        assert!(rows[0].mem_limit > 0, "{:?}", rows[0]);
        false
    })
    .unwrap();
    assert_eq!(rounds, 1);
    let top = e.top("svc", &[]).unwrap();
    assert!(top.titles.iter().any(|t| t == "PID"), "{top:?}");
    assert!(
        top.processes
            .iter()
            .any(|p| p.last().is_some_and(|c| c.contains("sleep 30"))),
        "{top:?}"
    );
    let before = e.container("svc").unwrap().state.started_at;
    e.restart("svc", Some(Duration::ZERO), None).unwrap();
    let after = e.container("svc").unwrap();
    assert_eq!(after.state.status, Status::Running);
    assert_ne!(after.state.started_at, before);
    // Recorded events, filtered: this container's starts.
    let mut starts = Vec::new();
    e.events(
        &berth_engine::events::EventsOptions {
            since: Some("0".into()),
            until: Some(berth_engine::filters::time_filter("0s", "--until").unwrap()),
            filters: Filters::parse(&["type=container", "event=start", "container=svc"]).unwrap(),
        },
        &Cancel::new(),
        |ev| {
            starts.push(ev.action.clone());
            true
        },
    )
    .unwrap();
    assert_eq!(starts, ["start", "start"]);
    // A live stream ends on cancel.
    let cancel = Cancel::new();
    std::thread::scope(|s| {
        let h = s.spawn(|| e.events(&Default::default(), &cancel, |_| true));
        std::thread::sleep(Duration::from_millis(150));
        cancel.cancel();
        assert!(matches!(
            h.join().unwrap(),
            Err(berth_engine::Error::Cancelled(_))
        ));
    });
    // Prune: stopped containers with the label only.
    e.stop("svc", Some(Duration::ZERO), None).unwrap();
    let mut keep = env.config("true");
    keep.labels.insert("keep".into(), "1".into());
    env.create("kept", keep);
    env.create("dropped", env.config("true"));
    let (deleted, _) = e
        .prune_containers(&Filters::parse(&["label!=keep"]).unwrap())
        .unwrap();
    assert_eq!(deleted.len(), 2, "svc and dropped: {deleted:?}");
    let names: Vec<String> = e
        .containers()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["kept"]);
    assert!(
        e.prune_containers(&Filters::parse(&["bogus=1"]).unwrap())
            .is_err()
    );
}
