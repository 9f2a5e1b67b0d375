//! The embedded resolver: each monitor of a container on a user-defined network answers
//! DNS on 127.0.0.11:53 (UDP and TCP, `tcp.rs`) inside that container's network namespace, as Docker's
//! embedded resolver appears there. Names of the container's networks come from the store,
//! kept in memory until it changes (`cache.rs`); everything else is forwarded to the upstream servers
//! (--dns, else berth.toml's `dns`, else the host's /etc/resolv.conf) from a socket in the
//! monitor's own namespace, the host's, so that a loopback resolver such as 127.0.0.53
//! is reached on the container's behalf.
//!
//! One resolver per container, in its monitor's event loop (no thread, no runtime): no
//! process's death breaks resolution for any other container, and a killed monitor's
//! adopter (started by its keeper at once) binds the address again.

mod cache;
mod tcp;
mod uptcp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use berth_network::dns::{self, Bad, Query};
use rustix::event::PollFlags;

use crate::container::Container;
use crate::engine::Engine;
use crate::error::Result;

/// Forwarded queries awaiting an answer, at most (more get SERVFAIL).
const MAX_PENDING: usize = 256;
/// How long an upstream has before the next one is asked (or SERVFAIL, after the last).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// Datagrams handled per wakeup, at most (the loop has other work too).
const BURST: usize = 64;

/// Who asked: a UDP peer, or a TCP connection (by its number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Udp(SocketAddr),
    Tcp(u64),
}

struct Pending {
    upstream_id: u16,
    client: Client,
    query: Query,
    msg: Vec<u8>,
    server: usize,
    deadline: Instant,
}

pub(crate) struct Resolver {
    /// 127.0.0.11:53 in the container's namespace.
    sock: UdpSocket,
    /// The same over TCP, and its connections.
    tcp: TcpListener,
    conns: tcp::Conns,
    /// Queries of TCP clients, forwarded over TCP.
    uptcp: uptcp::UpTcp,
    /// Ours in the host's namespace, to the upstreams (made on the first forward).
    up: Option<UdpSocket>,
    upstreams: Vec<SocketAddr>,
    pending: Vec<Pending>,
    id: String,
    /// The names of the container's networks.
    names: cache::Names,
    buf: Vec<u8>,
}

/// The servers the resolver forwards to: the container's --dns, else berth.toml's `dns`,
/// else the host's nameservers (loopback ones included: we are on the host's side), else
/// Google's public servers, as Docker. IPv4 only for now. None on an `--internal`
/// network, which has no way out (Docker's resolver does not forward there either).
fn upstreams(engine: &Engine, c: &Container) -> Vec<SocketAddr> {
    if let crate::config::NetworkMode::Network(n) = &c.config.host.network_mode
        && engine.network(n).is_ok_and(|n| n.internal)
    {
        return Vec::new();
    }
    let parse = |s: &str| s.trim().parse::<Ipv4Addr>().ok();
    let mut v: Vec<Ipv4Addr> = c.config.host.dns.iter().filter_map(|s| parse(s)).collect();
    if v.is_empty()
        && let Ok(s) = engine.settings()
    {
        v = s.dns.iter().filter_map(|d| parse(d)).collect();
    }
    if v.is_empty() {
        v = crate::etc_files::host_resolv_conf()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(parse)
            .collect();
    }
    if v.is_empty() {
        v = vec![Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(8, 8, 4, 4)];
    }
    v.into_iter()
        .map(|a| SocketAddr::new(IpAddr::V4(a), 53))
        .collect()
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    // SAFETY: getrandom writes at most b.len() bytes into the buffer it is given.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 2 {
        // Never in practice; the time's nanoseconds then.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        return u16::try_from((t ^ (t >> 16)) & 0xffff).unwrap_or(0);
    }
    u16::from_ne_bytes(b)
}

impl Resolver {
    /// The resolver of container `c`: None when it is on no user-defined network.
    pub(crate) fn open(engine: &Engine, c: &Container) -> Result<Option<Resolver>> {
        let Some(netns) = crate::network::names::resolver_netns(engine, c)? else {
            return Ok(None);
        };
        let addr: SocketAddr = (
            crate::etc_files::EMBEDDED_DNS
                .parse::<Ipv4Addr>()
                .unwrap_or(Ipv4Addr::new(127, 0, 0, 11)),
            53,
        )
            .into();
        let (sock, tcp) = berth_network::netns::run_in(&netns, "listen on 127.0.0.11:53", || {
            let s = UdpSocket::bind(addr)?;
            s.set_nonblocking(true)?;
            let t = TcpListener::bind(addr)?;
            t.set_nonblocking(true)?;
            Ok((s, t))
        })?;
        Ok(Some(Resolver {
            sock,
            tcp,
            conns: tcp::Conns::default(),
            uptcp: uptcp::UpTcp::default(),
            up: None,
            upstreams: upstreams(engine, c),
            pending: Vec::new(),
            id: c.id.clone(),
            names: cache::Names::default(),
            buf: vec![0u8; dns::MAX_MESSAGE + 1],
        }))
    }

    /// The descriptors to poll, with what to poll them for: the UDP socket, the upstream
    /// socket while queries are forwarded, the TCP listener and its connections, the
    /// connections to upstreams over TCP.
    /// `on_ready` takes the results in this order.
    pub(crate) fn poll_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut v = vec![(self.sock.as_fd(), PollFlags::IN)];
        if let Some(u) = self.up.as_ref().filter(|_| !self.pending.is_empty()) {
            v.push((u.as_fd(), PollFlags::IN));
        }
        v.push((self.tcp.as_fd(), PollFlags::IN));
        self.conns.poll_fds(&mut v);
        self.uptcp.poll_fds(&mut v);
        v
    }

    /// Handles what `poll` reported for `poll_fds` (same order), then the timeouts.
    pub(crate) fn on_ready(&mut self, engine: &Engine, ready: &[bool]) {
        // The layout `poll_fds` had (serving changes what is pending).
        let up_polled = self.up.is_some() && !self.pending.is_empty();
        let n_conns = self.conns.len();
        let mut it = ready.iter().copied();
        if it.next().unwrap_or(false) {
            self.serve(engine);
        }
        if up_polled && it.next().unwrap_or(false) {
            self.relay();
        }
        if it.next().unwrap_or(false) {
            self.conns.accept(&self.tcp);
        }
        let conn_ready: Vec<bool> = it.by_ref().take(n_conns).collect();
        let uptcp_ready: Vec<bool> = it.collect();
        for msg in self.conns.on_ready(&conn_ready) {
            self.handle(engine, msg.1, Client::Tcp(msg.0));
        }
        for d in self.uptcp.on_ready(&uptcp_ready, &self.upstreams) {
            let answer = match (d.answer, d.udp) {
                (Some(a), None) => a,
                // Asked over UDP: the whole answer when the client takes it, else as
                // many records as fit (TC set), else what the upstream sent over UDP.
                (Some(a), Some(u)) if a.len() <= u.limit => a,
                (Some(a), Some(u)) => dns::truncate(&a, u.limit).unwrap_or(u.truncated),
                (None, Some(u)) => u.truncated,
                (None, None) => dns::empty_reply(&d.query, dns::RCODE_SERVFAIL),
            };
            self.reply(d.client, &answer);
        }
        self.expire();
        let (pending, uptcp) = (&self.pending, &self.uptcp);
        self.conns.expire(|id| {
            pending.iter().any(|p| p.client == Client::Tcp(id)) || uptcp.waiting(Client::Tcp(id))
        });
    }

    /// How long until a forwarded query times out or a TCP connection idles out.
    pub(crate) fn next_timeout(&self) -> Option<Duration> {
        self.pending
            .iter()
            .map(|p| p.deadline.saturating_duration_since(Instant::now()))
            .chain(self.conns.next_timeout())
            .chain(self.uptcp.next_timeout())
            .min()
    }

    /// Answers the UDP queries waiting on the container's side.
    fn serve(&mut self, engine: &Engine) {
        for _ in 0..BURST {
            let (n, src) = match self.sock.recv_from(&mut self.buf) {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            let msg = self.buf[..n].to_vec();
            self.handle(engine, msg, Client::Udp(src));
        }
    }

    /// Answers one message of a client (or forwards it).
    fn handle(&mut self, engine: &Engine, msg: Vec<u8>, client: Client) {
        let q = match dns::parse_query(&msg) {
            Ok(q) => q,
            Err(Bad::Drop) => return,
            Err(Bad::Reply(r)) => return self.reply(client, &r),
        };
        if let Some(r) = self.local(engine, &q) {
            self.reply(client, &r);
        } else {
            self.forward(q, msg, client);
        }
    }

    fn reply(&mut self, client: Client, msg: &[u8]) {
        match client {
            Client::Udp(a) => {
                let _ = self.sock.send_to(msg, a);
            }
            Client::Tcp(id) => self.conns.send(id, msg),
        }
    }

    /// The answer from the store's names, if the name is one of ours.
    fn local(&mut self, engine: &Engine, q: &Query) -> Option<Vec<u8>> {
        if !dns::is_in_class(q) {
            return Some(dns::empty_reply(q, dns::RCODE_NOTIMP));
        }
        let ptr = if q.qtype == dns::TYPE_PTR {
            dns::ptr_address(&q.name)
        } else {
            None
        };
        let ptr6 = if q.qtype == dns::TYPE_PTR && ptr.is_none() {
            berth_network::subnet6::ptr_address(&q.name)
        } else {
            None
        };
        if ptr.is_none() && ptr6.is_none() && (!q.plain || q.name.is_empty() || q.name.len() > 253)
        {
            return None;
        }
        let names = match self.names.current(engine, &self.id) {
            Ok(t) => t,
            Err(_) => return Some(dns::empty_reply(q, dns::RCODE_SERVFAIL)),
        };
        if let Some(ip) = ptr {
            return names.reverse(ip).map(|name| dns::ptr_reply(q, &name));
        }
        if let Some(ip) = ptr6 {
            return names.reverse6(ip).map(|name| dns::ptr_reply(q, &name));
        }
        match names.lookup(&q.name).as_slice() {
            [] => None,
            ips if q.qtype == dns::TYPE_A => Some(dns::a_reply(q, ips)),
            // The IPv6 addresses of the name's endpoints on networks with IPv6 (none:
            // no data).
            _ if q.qtype == dns::TYPE_AAAA => Some(dns::aaaa_reply(q, &names.lookup6(&q.name))),
            // Every other type of a name of ours: no data.
            _ => Some(dns::empty_reply(q, dns::RCODE_OK)),
        }
    }

    /// Gives back what the name cache's connection holds beyond the names (the monitor
    /// trims itself after a quiet second).
    pub(crate) fn shrink(&self) {
        self.names.shrink();
    }

    /// Sends `msg` on to the first upstream (SERVFAIL when that cannot be done): over
    /// TCP for a client that asked over TCP (the answer may be too large for UDP), else
    /// over UDP; a UDP answer with TC set is asked again over TCP (`relay`).
    fn forward(&mut self, query: Query, msg: Vec<u8>, client: Client) {
        if let Client::Tcp(_) = client {
            if self.uptcp.len() >= uptcp::MAX || self.upstreams.is_empty() {
                return self.reply(client, &dns::empty_reply(&query, dns::RCODE_SERVFAIL));
            }
            let id = random_id();
            let msg = dns::with_id(&msg, id);
            if let Some(d) = self.uptcp.start(
                &self.upstreams,
                0,
                uptcp::Fwd {
                    client,
                    query,
                    msg,
                    upstream_id: id,
                    udp: None,
                },
            ) {
                self.reply(d.client, &dns::empty_reply(&d.query, dns::RCODE_SERVFAIL));
            }
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            return self.reply(client, &dns::empty_reply(&query, dns::RCODE_SERVFAIL));
        }
        if self.up.is_none() {
            self.up = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .ok();
        }
        let mut id = random_id();
        while self.pending.iter().any(|p| p.upstream_id == id) {
            id = id.wrapping_add(1);
        }
        let p = Pending {
            upstream_id: id,
            client,
            query,
            msg: dns::with_id(&msg, id),
            server: 0,
            deadline: Instant::now(),
        };
        self.send_from(p, 0);
    }

    /// Sends a pending query to upstream `server` or a later one; SERVFAIL after the last.
    fn send_from(&mut self, mut p: Pending, server: usize) {
        for s in server..self.upstreams.len() {
            let sent = self
                .up
                .as_ref()
                .is_some_and(|u| u.send_to(&p.msg, self.upstreams[s]).is_ok());
            if sent {
                p.server = s;
                p.deadline = Instant::now() + UPSTREAM_TIMEOUT;
                self.pending.push(p);
                return;
            }
        }
        self.reply(p.client, &dns::empty_reply(&p.query, dns::RCODE_SERVFAIL));
    }

    /// Passes the upstreams' answers back to the containers' clients.
    fn relay(&mut self) {
        for _ in 0..BURST {
            let Some(up) = &self.up else { return };
            let (n, src) = match up.recv_from(&mut self.buf) {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            let reply = &self.buf[..n];
            let Some(i) = self.pending.iter().position(|p| {
                self.upstreams.get(p.server) == Some(&src)
                    && dns::reply_matches(reply, p.upstream_id, &p.query.question)
            }) else {
                // Late, spoofed or unrelated: dropped.
                continue;
            };
            let p = self.pending.swap_remove(i);
            let answer = dns::with_id(reply, p.query.id);
            // Truncated: the same query over TCP to the same upstream, for the whole
            // answer (or as much of it as the client takes); the truncated one if that
            // cannot be done.
            if dns::is_truncated(&answer) && self.uptcp.len() < uptcp::MAX {
                let udp = uptcp::UdpAsked {
                    limit: dns::udp_limit(&p.msg),
                    truncated: answer,
                };
                let f = uptcp::Fwd {
                    client: p.client,
                    query: p.query,
                    msg: p.msg,
                    upstream_id: p.upstream_id,
                    udp: Some(udp),
                };
                if let Some(d) = self.uptcp.start(&self.upstreams, p.server, f) {
                    let fallback = d.udp.map(|u| u.truncated).unwrap_or_default();
                    self.reply(d.client, &fallback);
                }
                continue;
            }
            self.reply(p.client, &answer);
        }
    }

    /// Queries whose upstream did not answer in time go to the next one, or get SERVFAIL.
    fn expire(&mut self) {
        let now = Instant::now();
        let (late, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.deadline <= now);
        self.pending = waiting;
        for p in late {
            let next = p.server + 1;
            self.send_from(p, next);
        }
    }
}
