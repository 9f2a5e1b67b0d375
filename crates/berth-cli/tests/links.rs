//! Legacy links (`--link`) and the brief's three-tier application, inside throwaway network
//! namespaces (`common::netns`): containers on the default bridge find a linked container
//! by its alias (/etc/hosts and Docker's link variables); a web tier published on the test
//! host reaches an app tier by name, which keeps its data in a db tier on a named volume;
//! killing every Berth process but the monitors changes none of it.

mod common;

use std::process::Command;

use common::netns::{NetEnv, Outside, curl};

#[test]
#[ignore = "needs root"]
fn links_on_the_default_bridge_as_docker() {
    let t = NetEnv::new();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "-e",
        "DBPASS=s3cret",
        "--expose",
        "5432",
        "busybox",
        "sleep",
        "600",
    ]);
    t.ok(&[
        "run", "-d", "--name", "web", "--link", "db:my-db", "busybox", "sleep", "600",
    ]);
    let db_ip = t.field("db", "{{.NetworkSettings.Networks.bridge.IPAddress}}");
    let db_host = t.field("db", "{{.Config.Hostname}}");
    let hosts = t.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!("{db_ip}\tmy-db {db_host} db\n")),
        "{hosts}"
    );
    t.ok(&["exec", "web", "ping", "-c", "1", "-W", "2", "my-db"]);
    let env = t.ok(&["exec", "web", "env"]);
    for want in [
        "MY_DB_NAME=/web/my-db".to_string(),
        format!("MY_DB_PORT=tcp://{db_ip}:5432"),
        format!("MY_DB_PORT_5432_TCP=tcp://{db_ip}:5432"),
        format!("MY_DB_PORT_5432_TCP_ADDR={db_ip}"),
        "MY_DB_PORT_5432_TCP_PORT=5432".to_string(),
        "MY_DB_PORT_5432_TCP_PROTO=tcp".to_string(),
        "MY_DB_ENV_DBPASS=s3cret".to_string(),
    ] {
        assert!(
            env.lines().any(|l| l == want),
            "{want} missing from:\n{env}"
        );
    }
    assert!(!env.contains("MY_DB_ENV_PATH"), "{env}");
    assert_eq!(
        t.field("web", "{{json .HostConfig.Links}}"),
        "[\"/db:/web/my-db\"]"
    );
    // The alias is the name when none is given.
    let out = t.ok(&[
        "run", "--rm", "--link", "db", "busybox", "ping", "-c", "1", "-W", "2", "db",
    ]);
    assert!(out.contains(&db_ip), "{out}");

    // Refusals: one line, nothing created.
    let before = t.ok(&["ps", "-aq"]);
    for (args, words) in [
        (
            &["create", "--link", "nosuch", "busybox"][..],
            "could not get container for nosuch",
        ),
        (
            &["create", "--network", "none", "--link", "db", "busybox"][..],
            "conflicting options",
        ),
        (
            &["create", "--link", "db:bad alias", "busybox"][..],
            "invalid link",
        ),
    ] {
        // create exits 1 for what the engine refuses (as docker's create).
        let (code, _, err) = t.run(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.to_lowercase().contains(words), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(t.ok(&["ps", "-aq"]), before);
    // A link to a container that is not running fails the start.
    t.ok(&["create", "--name", "stopped", "busybox"]);
    t.ok(&[
        "create",
        "--name",
        "late",
        "--link",
        "stopped:s",
        "busybox",
        "true",
    ]);
    let (code, _, err) = t.run(&["start", "late"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Cannot link to a non running container: /stopped AS /late/s"),
        "{err}"
    );
    // Nothing of the failed start is left: no address on the bridge for it.
    assert_eq!(t.field("late", "{{.State.Status}}"), "created");
}

#[test]
#[ignore = "needs root"]
fn a_link_on_a_user_network_resolves_the_alias() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.213.0.0/24", "bt-links"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "n1",
        "--network",
        "bt-links",
        "busybox",
        "sleep",
        "600",
    ]);
    let out = t.ok(&[
        "run",
        "--rm",
        "--network",
        "bt-links",
        "--link",
        "n1:first",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "first",
    ]);
    assert!(out.contains("10.213.0."), "{out}");
    // Only that container has the alias.
    let (code, _, _) = t.run(&[
        "run",
        "--rm",
        "--network",
        "bt-links",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "first",
    ]);
    assert_ne!(code, 0);
}

/// The brief's three-tier flow with busybox stand-ins: `db` a line server (nc) writing to
/// a named volume, `app` an HTTP service that stores what it is sent in `db` by name,
/// `web` published on the test host, forwarding to `app` by name. Then every Berth process
/// but the monitors is killed: names still resolve and the port still answers.
#[test]
#[ignore = "needs root"]
fn three_tiers_by_name_with_a_published_web_tier() {
    let t = NetEnv::new();
    let outside = Outside::new(&t);
    t.ok(&["network", "create", "--subnet", "10.214.0.0/24", "bt-3t"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "bt-3t",
        "-v",
        "bt3data:/data",
        "busybox",
        "sh",
        "-c",
        "while true; do nc -l -p 5000 >> /data/lines; done",
    ]);
    let app_cgi = "#!/bin/sh\nprintf \"Content-Type: text/plain\\r\\n\\r\\n\"\n\
                   echo \"$QUERY_STRING\" | nc -w 2 db 5000 && echo stored \"$QUERY_STRING\"\n";
    t.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "bt-3t",
        "busybox",
        "sh",
        "-c",
        &format!(
            "mkdir -p /www/cgi-bin && printf '%s' '{app_cgi}' > /www/cgi-bin/store && \
             chmod +x /www/cgi-bin/store && exec httpd -f -p 8000 -h /www"
        ),
    ]);
    let web_cgi = "#!/bin/sh\nprintf \"Content-Type: text/plain\\r\\n\\r\\n\"\n\
                   wget -q -O - \"http://app:8000/cgi-bin/store?$QUERY_STRING\"\n";
    t.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "bt-3t",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        &format!(
            "mkdir -p /www/cgi-bin && printf '%s' '{web_cgi}' > /www/cgi-bin/save && \
             chmod +x /www/cgi-bin/save && exec httpd -f -p 80 -h /www"
        ),
    ]);
    let ask = |word: &str| {
        let mut got = String::new();
        for _ in 0..50 {
            got = curl(
                &outside.ns,
                &format!("http://192.0.2.1:8080/cgi-bin/save?{word}"),
            );
            if got.contains("stored") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        got
    };
    assert_eq!(ask("first").trim(), "stored first");
    let lines = || t.ok(&["exec", "db", "cat", "/data/lines"]);
    // The db tier's nc writes the line as it receives it: the app may answer first.
    t.env
        .wait_for(5, "the db tier's file", || lines().contains("first\n"));

    // Kill every berth process but the monitors (clients left running: logs -f, events).
    let berth = std::path::Path::new(env!("CARGO_BIN_EXE_berth"));
    let mut clients = Vec::new();
    for args in [&["logs", "-f", "web"][..], &["events"][..]] {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", t.ns))
            .arg(berth)
            .args(args)
            .env("BERTH_ROOT", &t.env.b.root)
            .stdout(std::process::Stdio::null());
        clients.push(c.spawn().expect("start a berth client"));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    for c in &mut clients {
        c.kill().expect("SIGKILL a berth client");
        c.wait().expect("reap it");
    }
    // No berth process of this data root is left (the monitors are `berth-monitor`).
    let root = format!("BERTH_ROOT={}", t.env.b.root.display());
    let others: Vec<String> = Command::new("pgrep")
        .args(["-x", "berth"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .lines()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|e| e.split(|b| *b == 0).any(|v| v == root.as_bytes()))
                .unwrap_or(false)
        })
        .map(str::to_owned)
        .collect();
    assert!(others.is_empty(), "berth processes left: {others:?}");
    assert_eq!(ask("second").trim(), "stored second");
    t.env
        .wait_for(5, "the second line", || lines().contains("first\nsecond\n"));
    // The data outlives the db tier: a new db on the same volume has it.
    t.ok(&["rm", "-f", "db"]);
    let kept = t.ok(&[
        "run",
        "--rm",
        "-v",
        "bt3data:/data",
        "busybox",
        "cat",
        "/data/lines",
    ]);
    assert_eq!(kept, "first\nsecond\n");
}

/// `-o com.docker.network.bridge.enable_icc=false`: the network's containers cannot reach
/// each other, but still reach the host (their gateway); another network keeps icc.
#[test]
#[ignore = "needs root"]
fn icc_false_keeps_a_networks_containers_apart() {
    let t = NetEnv::new();
    t.ok(&[
        "network",
        "create",
        "--subnet",
        "10.215.0.0/24",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "bt-noicc",
    ]);
    t.ok(&["network", "create", "--subnet", "10.215.1.0/24", "bt-icc"]);
    for (name, net) in [
        ("i1", "bt-noicc"),
        ("i2", "bt-noicc"),
        ("j1", "bt-icc"),
        ("j2", "bt-icc"),
    ] {
        t.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            net,
            "busybox",
            "sleep",
            "600",
        ]);
    }
    let ip = |c: &str, net: &str| {
        t.field(
            c,
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        )
    };
    let ping =
        |from: &str, to: &str| t.run(&["exec", from, "ping", "-c", "1", "-W", "1", to]).0 == 0;
    assert!(
        !ping("i1", &ip("i2", "bt-noicc")),
        "icc=false let i1 reach i2"
    );
    assert!(ping("i1", "10.215.0.1"), "the gateway stays reachable");
    assert!(ping("j1", &ip("j2", "bt-icc")), "icc=true");
    let opts = t.ok(&[
        "network",
        "inspect",
        "-f",
        "{{index .Options \"com.docker.network.bridge.enable_icc\"}}",
        "bt-noicc",
    ]);
    assert_eq!(opts.trim(), "false");
    let (code, _, err) = t.run(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=maybe",
        "bt-bad",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("enable_icc=maybe"), "{err}");
}

/// `--add-host NAME:host-gateway` names the host's address on the container's network;
/// a malformed `--add-host` is refused as docker's client refuses it.
#[test]
#[ignore = "needs root"]
fn add_host_gateway_is_the_hosts_address_on_the_network() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.216.0.0/24", "bt-gw"]);
    let hosts = t.ok(&[
        "run",
        "--rm",
        "--network",
        "bt-gw",
        "--add-host",
        "host.docker.internal:host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        hosts.contains("10.216.0.1\thost.docker.internal\n"),
        "{hosts}"
    );
    let gw = t.ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        "bridge",
    ]);
    let hosts = t.ok(&[
        "run",
        "--rm",
        "--add-host",
        "gw:host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains(&format!("{}\tgw\n", gw.trim())), "{hosts}");
    // As docker's client: a flag error (its message, then the usage lines), exit 125.
    for (bad, says) in [
        ("nocolon", "bad format"),
        ("x:notanip", "invalid IP address"),
    ] {
        let (code, _, err) = t.run(&["create", "--add-host", bad, "busybox"]);
        assert_eq!(code, 125, "{err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!(
                "invalid argument \"{bad}\" for \"--add-host\" flag: {says}"
            )),
            "{err}"
        );
    }
    assert_eq!(t.ok(&["ps", "-aq"]), "");
}
