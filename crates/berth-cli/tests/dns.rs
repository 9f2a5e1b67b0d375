//! The embedded resolver (each monitor answers on 127.0.0.11 in its container's
//! namespace), end to end inside throwaway network namespaces (`common::netns`): names,
//! aliases and hostnames of a user-defined network resolve there and nowhere else, a
//! stopped container's name goes, other names are forwarded to the upstream (a responder
//! of the test's own on the test host's 127.0.0.1, named by berth.toml's `dns`: a loopback
//! resolver that the container could not reach itself), and a killed monitor's adopter
//! answers again while the other containers never stop.

mod common;

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::netns::NetEnv;

/// The only name the upstream knows, and its address.
const EXTERNAL: &str = "external.test";
const EXTERNAL_IP: [u8; 4] = [203, 0, 113, 7];
/// A name with `BIG_COUNT` addresses (203.0.113.1...): over UDP its answer is truncated
/// (TC set, no records), over TCP it comes whole (more than 512 bytes).
const BIG: &str = "big.test";
const BIG_COUNT: u8 = 60;

/// A tiny DNS server on 127.0.0.1:53 (UDP and TCP) in the test host's namespace: A of
/// `external.test` and `big.test`, NXDOMAIN for everything else. Stops on drop.
struct Upstream {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn answer(q: &[u8], tcp: bool) -> Option<Vec<u8>> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*q.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    let question = q.get(12..i + 4)?;
    if labels.join(".") == BIG {
        let n = if tcp && qtype == 1 { BIG_COUNT } else { 0 };
        let mut r = q[..2].to_vec();
        // QR, RD; TC over UDP.
        r.push(if tcp { 0x81 } else { 0x83 });
        r.push(0x80);
        r.extend_from_slice(&[0, 1, 0, n, 0, 0, 0, 0]);
        r.extend_from_slice(q.get(12..i + 4)?);
        for k in 1..=n {
            r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, k]);
        }
        return Some(r);
    }
    let ours = labels.join(".") == EXTERNAL;
    let mut r = q[..2].to_vec();
    r.push(0x81);
    r.push(if ours { 0x80 } else { 0x83 });
    r.extend_from_slice(&[0, 1, 0, u8::from(ours && qtype == 1), 0, 0, 0, 0]);
    r.extend_from_slice(question);
    if ours && qtype == 1 {
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend_from_slice(&EXTERNAL_IP);
    }
    Some(r)
}

impl Upstream {
    fn start(t: &NetEnv) -> Upstream {
        let ns = std::fs::File::open(format!("/run/netns/{}", t.ns)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let ns2 = ns.try_clone().unwrap();
        let tx2 = tx.clone();
        let udp = std::thread::spawn(move || {
            // This thread only.
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let s = UdpSocket::bind("127.0.0.1:53").unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_millis(100)))
                .unwrap();
            tx.send(()).unwrap();
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::SeqCst) {
                if let Ok((n, src)) = s.recv_from(&mut buf)
                    && let Some(r) = answer(&buf[..n], false)
                {
                    let _ = s.send_to(&r, src);
                }
            }
        });
        let stop3 = stop.clone();
        let tcp = std::thread::spawn(move || {
            use std::io::{Read, Write};
            nix::sched::setns(&ns2, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let l = std::net::TcpListener::bind("127.0.0.1:53").unwrap();
            l.set_nonblocking(true).unwrap();
            tx2.send(()).unwrap();
            while !stop3.load(Ordering::SeqCst) {
                let Ok((mut c, _)) = l.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                };
                // One framed query, one framed answer (blocking, bounded by a timeout).
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let mut len = [0u8; 2];
                if c.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if c.read_exact(&mut q).is_err() {
                    continue;
                }
                // `slow.test` takes a second over TCP (NXDOMAIN then).
                if q.len() > 13 && q[13..].starts_with(b"slow") {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
                if let Some(r) = answer(&q, true) {
                    let mut out = u16::try_from(r.len()).unwrap().to_be_bytes().to_vec();
                    out.extend_from_slice(&r);
                    let _ = c.write_all(&out);
                }
            }
        });
        rx.recv().unwrap();
        rx.recv().unwrap();
        Upstream {
            stop,
            threads: vec![udp, tcp],
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A test host with the upstream as the containers' nameserver (berth.toml `dns`).
fn setup() -> (NetEnv, Upstream) {
    let mut t = NetEnv::new();
    let conf = t.env.dir.path().join("berth.toml");
    std::fs::write(&conf, "dns = [\"127.0.0.1\"]\n").unwrap();
    t.config = Some(conf);
    let up = Upstream::start(&t);
    (t, up)
}

fn run_on(t: &NetEnv, net: &str, name: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name, "--network", net];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sleep", "300"]);
    t.ok(&args);
}

/// `nslookup NAME` in container `c`: (exit code, output).
fn nslookup(t: &NetEnv, c: &str, name: &str) -> (i32, String) {
    let (code, out, err) = t.run(&["exec", c, "nslookup", name]);
    (code, format!("{out}{err}"))
}

fn ip_of(t: &NetEnv, c: &str, net: &str) -> String {
    t.field(
        c,
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
    )
}

#[test]
#[ignore = "needs root"]
fn names_aliases_and_hostnames_resolve_on_their_network_only() {
    let (t, _up) = setup();
    t.ok(&["network", "create", "--subnet", "10.202.1.0/24", "bt-dns1"]);
    t.ok(&["network", "create", "--subnet", "10.202.2.0/24", "bt-dns2"]);
    run_on(
        &t,
        "bt-dns1",
        "d1",
        &["--network-alias", "web", "--hostname", "h1"],
    );
    run_on(&t, "bt-dns1", "d2", &[]);
    run_on(&t, "bt-dns2", "d3", &[]);
    t.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.202.5.0/24",
        "bt-dnsi",
    ]);
    run_on(&t, "bt-dnsi", "d5", &[]);
    let ip1 = ip_of(&t, "d1", "bt-dns1");
    let ip2 = ip_of(&t, "d2", "bt-dns1");

    // Inspect shows the names (current Docker's Aliases and DNSNames).
    let short = t.field("d1", "{{.Id}}")[..12].to_string();
    assert_eq!(
        t.field(
            "d1",
            "{{json (index .NetworkSettings.Networks \"bt-dns1\").DNSNames}}"
        ),
        format!("[\"d1\",\"web\",\"{short}\",\"h1\"]")
    );
    assert_eq!(
        t.field(
            "d1",
            "{{json (index .NetworkSettings.Networks \"bt-dns1\").Aliases}}"
        ),
        "[\"web\"]"
    );

    let conf = t.ok(&["exec", "d1", "cat", "/etc/resolv.conf"]);
    assert!(conf.starts_with("nameserver 127.0.0.11\n"), "{conf}");
    assert!(conf.contains("options ndots:0"), "{conf}");

    // By name, alias and hostname, both ways; upper case too.
    for name in ["d1", "web", "h1", "D1", "d1.bt-dns1", "web.bt-dns1"] {
        let (code, out) = nslookup(&t, "d2", name);
        assert_eq!(code, 0, "nslookup {name}: {out}");
        assert!(out.contains(&format!("Address: {ip1}")), "{name}: {out}");
    }
    let (code, out) = nslookup(&t, "d1", "d2");
    assert!(code == 0 && out.contains(&ip2), "{out}");
    // The C library's resolver (getaddrinfo) too.
    let ping = t.run(&["exec", "d2", "ping", "-c", "1", "-W", "5", "web"]);
    assert_eq!(ping.0, 0, "ping web: {} {}", ping.1, ping.2);
    assert!(ping.1.contains(&ip1), "{}", ping.1);
    // The reverse of an address of the network.
    let (code, out) = nslookup(&t, "d2", &ip1);
    assert!(code == 0 && out.contains("d1.bt-dns1"), "{out}");

    // Another network's names are not ours: the upstream knows nothing of them.
    for name in ["d1", "web", "h1", "d1.bt-dns1"] {
        let (code, out) = nslookup(&t, "d3", name);
        assert_ne!(code, 0, "d3 resolved {name}: {out}");
        assert!(!out.contains(&ip1), "{out}");
    }

    // Everything else goes upstream, through the test host's loopback.
    let (code, out) = nslookup(&t, "d2", EXTERNAL);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("203.0.113.7"), "{out}");

    // An internal network has no way out, for names neither; its own names resolve.
    let (code, out) = nslookup(&t, "d5", EXTERNAL);
    assert!(code != 0 && !out.contains("203.0.113.7"), "{out}");
    let (code, out) = nslookup(&t, "d5", "d5");
    assert!(
        code == 0 && out.contains(&ip_of(&t, "d5", "bt-dnsi")),
        "{out}"
    );

    // A stopped container's names are gone.
    t.ok(&["stop", "-t", "0", "d1"]);
    for name in ["d1", "web"] {
        let (code, out) = nslookup(&t, "d2", name);
        assert_ne!(code, 0, "{name} still resolves: {out}");
    }
}

#[test]
#[ignore = "needs root"]
fn a_killed_monitor_answers_again_and_the_others_never_stop() {
    let (t, _up) = setup();
    t.ok(&["network", "create", "--subnet", "10.202.3.0/24", "bt-dns3"]);
    run_on(&t, "bt-dns3", "k1", &[]);
    run_on(&t, "bt-dns3", "k2", &[]);
    let ip1 = ip_of(&t, "k1", "bt-dns3");
    let ip2 = ip_of(&t, "k2", "bt-dns3");
    let id1 = t.field("k1", "{{.Id}}");
    t.env
        .wait_for(10, "k1's keeper", || common::keeper_of(&id1).is_some());
    let old = common::monitor_of(&id1).expect("k1's monitor");
    // A loop inside k2 resolving k1, before and after the kill.
    let (code, out) = nslookup(&t, "k2", "k1");
    assert!(code == 0 && out.contains(&ip1), "{out}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // k2's resolver never depended on k1's monitor.
    let (code, out) = nslookup(&t, "k2", "k1");
    assert!(code == 0 && out.contains(&ip1), "{out}");
    // k1's adopter answers in k1 again (busybox nslookup retries for a few seconds).
    let killed = std::time::Instant::now();
    t.env.wait_for(20, "k1's adopter", || {
        common::monitor_of(&id1).is_some_and(|p| p != old)
    });
    let (code, out) = nslookup(&t, "k1", "k2");
    assert!(code == 0 && out.contains(&ip2), "{out}");
    eprintln!(
        "k1 resolves again {} ms after its monitor's kill",
        killed.elapsed().as_millis()
    );
}

/// Sends `msgs` to 127.0.0.11:53 from inside the namespace pinned at `netns`; the replies
/// (those that come within half a second each).
fn exchange(netns: &str, msgs: Vec<Vec<u8>>) -> Vec<Option<Vec<u8>>> {
    let ns = std::fs::File::open(netns).unwrap();
    std::thread::spawn(move || {
        // This thread only.
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        let mut out = Vec::new();
        for m in msgs {
            s.send_to(&m, "127.0.0.11:53").unwrap();
            let mut buf = [0u8; 4096];
            out.push(s.recv(&mut buf).ok().map(|n| buf[..n].to_vec()));
        }
        out
    })
    .join()
    .unwrap()
}

#[test]
#[ignore = "needs root"]
fn garbage_from_a_container_is_refused_and_names_still_resolve_over_udp_and_tcp() {
    let (t, _up) = setup();
    t.ok(&["network", "create", "--subnet", "10.202.4.0/24", "bt-dns4"]);
    run_on(&t, "bt-dns4", "g1", &[]);
    let netns = t.field("g1", "{{.NetworkSettings.SandboxKey}}");
    let header = |id: u8, flags: u8, qd: u8| vec![0, id, flags, 0, 0, qd, 0, 0, 0, 0, 0, 0];
    let mut loop_ptr = header(3, 1, 1);
    loop_ptr.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let mut long_label = header(4, 1, 1);
    long_label.extend_from_slice(&[63; 300]);
    let mut response = header(5, 0x81, 1);
    response.extend_from_slice(&[2, b'g', b'1', 0, 0, 1, 0, 1]);
    let mut good = header(6, 1, 1);
    good.extend_from_slice(&[2, b'g', b'1', 0, 0, 1, 0, 1]);
    let replies = exchange(
        &netns,
        vec![
            vec![],
            vec![1; 11],
            header(1, 1, 0),
            header(2, 1, 2),
            loop_ptr,
            long_label,
            response,
            vec![0xff; 9000],
            good,
        ],
    );
    let rcode = |r: &Option<Vec<u8>>| r.as_ref().map(|r| (r[1], r[3] & 0x0f));
    // No header, a response, an oversized datagram: nothing (answering could loop).
    for i in [0, 1, 6, 7] {
        assert_eq!(replies[i], None, "message {i}");
    }
    // A header with no question or two, a compression loop, a label past the end:
    // FORMERR, with the id echoed.
    for (i, id) in [(2, 1), (3, 2), (4, 3), (5, 4)] {
        assert_eq!(rcode(&replies[i]), Some((id, 1)), "message {i}");
    }
    // The resolver is still there and answers.
    let ip = ip_of(&t, "g1", "bt-dns4");
    let ans = replies[8].as_ref().expect("an answer to a good query");
    assert_eq!((ans[1], ans[3] & 0x0f), (6, 0));
    assert_eq!(
        ans[ans.len() - 4..],
        ip.parse::<std::net::Ipv4Addr>().unwrap().octets()
    );
    let (code, out) = nslookup(&t, "g1", "g1");
    assert!(code == 0 && out.contains(&ip), "{out}");

    // Over TCP: two framed queries in one write (a bad one, then a good one), each
    // answered in turn; then a forwarded one; a zero-length frame ends the connection.
    let ns = std::fs::File::open(&netns).unwrap();
    let bad = header(7, 1, 0);
    let mut good_tcp = header(8, 1, 1);
    good_tcp.extend_from_slice(&[2, b'g', b'1', 0, 0, 1, 0, 1]);
    let mut ext = header(9, 1, 1);
    for l in EXTERNAL.split('.') {
        ext.push(u8::try_from(l.len()).unwrap());
        ext.extend_from_slice(l.as_bytes());
    }
    ext.extend_from_slice(&[0, 0, 1, 0, 1]);
    let answers = std::thread::spawn(move || {
        use std::io::{Read, Write};
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let mut s = std::net::TcpStream::connect("127.0.0.11:53").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let frame = |m: &[u8]| {
            let mut f = u16::try_from(m.len()).unwrap().to_be_bytes().to_vec();
            f.extend_from_slice(m);
            f
        };
        let read_frame = |s: &mut std::net::TcpStream| {
            let mut len = [0u8; 2];
            s.read_exact(&mut len).unwrap();
            let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut m).unwrap();
            m
        };
        let mut both = frame(&bad);
        both.extend_from_slice(&frame(&good_tcp));
        s.write_all(&both).unwrap();
        let a = read_frame(&mut s);
        let b = read_frame(&mut s);
        s.write_all(&frame(&ext)).unwrap();
        let c = read_frame(&mut s);
        s.write_all(&[0, 0]).unwrap();
        let mut rest = Vec::new();
        let closed = s.read_to_end(&mut rest).is_ok() && rest.is_empty();
        (a, b, c, closed)
    })
    .join()
    .unwrap();
    assert_eq!(
        (answers.0[1], answers.0[3] & 0x0f),
        (7, 1),
        "FORMERR over TCP"
    );
    assert_eq!((answers.1[1], answers.1[3] & 0x0f), (8, 0));
    assert_eq!(
        answers.1[answers.1.len() - 4..],
        ip.parse::<std::net::Ipv4Addr>().unwrap().octets()
    );
    assert_eq!(
        (answers.2[1], answers.2[3] & 0x0f),
        (9, 0),
        "forwarded over TCP"
    );
    assert_eq!(answers.2[answers.2.len() - 4..], EXTERNAL_IP);
    assert!(answers.3, "a zero-length frame closes the connection");
}

/// An A query for `name`, with id `id`.
fn a_query(id: u8, name: &str) -> Vec<u8> {
    let mut q = vec![0, id, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        q.push(u8::try_from(l.len()).unwrap());
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// (id, rcode, last four bytes: the address of a one-answer reply) of a reply.
fn summary(r: &Option<Vec<u8>>) -> (u8, u8, Vec<u8>) {
    let r = r.as_ref().expect("a reply");
    (r[1], r[3] & 0x0f, r[r.len() - 4..].to_vec())
}

#[test]
#[ignore = "needs root"]
fn the_name_cache_sees_a_new_container_and_a_stopped_one_at_the_next_query() {
    let (t, _up) = setup();
    t.ok(&["network", "create", "--subnet", "10.202.6.0/24", "bt-dns6"]);
    run_on(&t, "bt-dns6", "n1", &[]);
    let netns = t.field("n1", "{{.NetworkSettings.SandboxKey}}");
    let ip1: std::net::Ipv4Addr = ip_of(&t, "n1", "bt-dns6").parse().unwrap();
    // n1's resolver has read its names (n1's only): n2 is not one of them, so it goes
    // upstream, which knows no such name.
    let r = exchange(&netns, vec![a_query(1, "n1"), a_query(2, "n2")]);
    assert_eq!(summary(&r[0]), (1, 0, ip1.octets().to_vec()));
    assert_eq!(summary(&r[1]).1, 3, "n2 before it exists");

    // A container that joins resolves at the very next query, by name and alias.
    run_on(&t, "bt-dns6", "n2", &["--network-alias", "late"]);
    let ip2: std::net::Ipv4Addr = ip_of(&t, "n2", "bt-dns6").parse().unwrap();
    let r = exchange(&netns, vec![a_query(3, "n2"), a_query(4, "late")]);
    assert_eq!(summary(&r[0]), (3, 0, ip2.octets().to_vec()));
    assert_eq!(summary(&r[1]), (4, 0, ip2.octets().to_vec()));

    // One that stops is gone at the next one.
    t.ok(&["stop", "-t", "0", "n2"]);
    let r = exchange(&netns, vec![a_query(5, "n2"), a_query(6, "n1")]);
    assert_eq!(summary(&r[0]).1, 3, "n2 after its stop");
    assert_eq!(summary(&r[1]), (6, 0, ip1.octets().to_vec()));
}

/// Sends one framed query over TCP to 127.0.0.11:53 from inside the namespace pinned at
/// `netns`, on a thread of its own; its answer, and when it came.
fn tcp_query(netns: &str, msg: Vec<u8>) -> std::thread::JoinHandle<(Vec<u8>, std::time::Instant)> {
    let ns = std::fs::File::open(netns).unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let mut s = std::net::TcpStream::connect("127.0.0.11:53").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut f = u16::try_from(msg.len()).unwrap().to_be_bytes().to_vec();
        f.extend_from_slice(&msg);
        s.write_all(&f).unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut m).unwrap();
        (m, std::time::Instant::now())
    })
}

#[test]
#[ignore = "needs root"]
fn truncated_answers_are_asked_again_over_tcp_and_a_slow_upstream_holds_nothing_up() {
    let (t, _up) = setup();
    t.ok(&["network", "create", "--subnet", "10.202.7.0/24", "bt-dns7"]);
    run_on(&t, "bt-dns7", "u1", &[]);
    let netns = t.field("u1", "{{.NetworkSettings.SandboxKey}}");
    let ip1: std::net::Ipv4Addr = ip_of(&t, "u1", "bt-dns7").parse().unwrap();

    // Over UDP the upstream's answer is truncated (TC set, no records): the resolver asks
    // again over TCP, and the client gets as many records as fit in 512 bytes (TC set, so
    // it may ask over TCP for the rest), or all of them when its EDNS0 size allows.
    let mut edns = a_query(5, BIG);
    edns[11] = 1;
    edns.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    let r = exchange(&netns, vec![a_query(1, BIG), edns]);
    let small = r[0].as_ref().expect("a reply over UDP");
    let fit = u8::try_from((512 - a_query(1, BIG).len()) / 16).unwrap();
    assert_eq!(
        (small[1], small[2] & 0x02, small[3] & 0x0f, small[7]),
        (1, 0x02, 0, fit),
        "{small:?}"
    );
    assert!(small.len() <= 512);
    let whole = r[1].as_ref().expect("a reply over UDP with EDNS0");
    assert_eq!(
        (whole[1], whole[2] & 0x02, whole[3] & 0x0f, whole[7]),
        (5, 0, 0, BIG_COUNT),
        "{whole:?}"
    );
    // Over TCP it comes whole: the resolver asked the upstream over TCP.
    let (r, _) = tcp_query(&netns, a_query(2, BIG)).join().unwrap();
    assert_eq!((r[1], r[2] & 0x02, r[3] & 0x0f), (2, 0, 0), "{r:?}");
    assert_eq!(r[7], BIG_COUNT, "all the addresses");
    assert!(r.len() > 512, "{} bytes", r.len());
    assert_eq!(r[r.len() - 4..], [203, 0, 113, BIG_COUNT]);

    // An upstream slow to answer over TCP holds up nothing else: a UDP query asked
    // while it works is answered first.
    let slow = tcp_query(&netns, a_query(3, "slow.test"));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let r = exchange(&netns, vec![a_query(4, "u1")]);
    let udp_done = std::time::Instant::now();
    assert_eq!(summary(&r[0]), (4, 0, ip1.octets().to_vec()));
    let (r, tcp_done) = slow.join().unwrap();
    assert_eq!(
        (r[1], r[3] & 0x0f),
        (3, 3),
        "the slow answer (NXDOMAIN) comes after"
    );
    assert!(udp_done < tcp_done);
}
