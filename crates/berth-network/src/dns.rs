//! The DNS wire format, as much as the embedded resolver needs: parse one query (a single
//! question, no compression), encode answers with A and PTR records, NODATA, NXDOMAIN and
//! error replies, check that an upstream's reply belongs to the query it was sent, and
//! cut an answer fetched over TCP down to what a UDP client takes (EDNS0 size, TC set).
//! Everything here reads bytes from a container: every length is bounded, nothing panics,
//! and what cannot be parsed gets FORMERR (or nothing, when it has no usable header).

use std::net::Ipv4Addr;

/// The largest message read or sent over UDP (EDNS clients advertise up to 4096).
pub const MAX_MESSAGE: usize = 4096;
/// Our own answers stay within the classic UDP limit.
const MAX_ANSWER: usize = 512;
/// Time to live of the names we answer (Docker's embedded resolver uses 600).
const TTL: u32 = 600;

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

pub const RCODE_OK: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// Recursion desired (echoed in the reply).
    pub rd: bool,
    /// The name, lower case, without the final dot ("" for the root).
    pub name: String,
    /// Every label is made of letters, digits, '-' and '_' only: a name Berth could have
    /// given out. Other names are never answered locally.
    pub plain: bool,
    pub qtype: u16,
    pub qclass: u16,
    /// The question section as received (echoed in replies; compared with upstream replies).
    pub question: Vec<u8>,
}

/// Why a message is not a query we can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bad {
    /// No header, or a response: dropped without a word (answering could loop).
    Drop,
    /// Answered with this reply (FORMERR or NOTIMP, the header's id echoed).
    Reply(Vec<u8>),
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// A reply with no question and no records: `rcode` for the message `msg` (whose header
/// must be at least 12 bytes).
fn bare_reply(msg: &[u8], rcode: u8) -> Vec<u8> {
    let mut r = vec![0u8; 12];
    r[..2].copy_from_slice(&msg[..2]);
    // QR, the opcode and RD echoed, RA.
    r[2] = 0x80 | (msg[2] & 0x79);
    r[3] = 0x80 | (rcode & 0x0f);
    r
}

/// Parses a query received from a container.
pub fn parse_query(msg: &[u8]) -> Result<Query, Bad> {
    if msg.len() < 12 || msg.len() > MAX_MESSAGE || msg[2] & 0x80 != 0 {
        return Err(Bad::Drop);
    }
    let formerr = || Bad::Reply(bare_reply(msg, RCODE_FORMERR));
    let opcode = (msg[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Err(Bad::Reply(bare_reply(msg, RCODE_NOTIMP)));
    }
    let qdcount = u16_at(msg, 4).ok_or_else(formerr)?;
    let ancount = u16_at(msg, 6).ok_or_else(formerr)?;
    let nscount = u16_at(msg, 8).ok_or_else(formerr)?;
    if qdcount != 1 || ancount != 0 || nscount != 0 {
        return Err(formerr());
    }
    // The name: labels of at most 63 bytes, 255 in all, no compression pointer.
    let mut i = 12;
    let mut name = String::new();
    let mut plain = true;
    let mut wire_len = 0usize;
    loop {
        let len = usize::from(*msg.get(i).ok_or_else(formerr)?);
        if len & 0xc0 != 0 {
            return Err(formerr());
        }
        wire_len += len + 1;
        if wire_len > 255 {
            return Err(formerr());
        }
        i += 1;
        if len == 0 {
            break;
        }
        let label = msg.get(i..i + len).ok_or_else(formerr)?;
        if !name.is_empty() {
            name.push('.');
        }
        for &b in label {
            if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                plain = false;
            }
            // Bytes outside printable ASCII are kept escaped: such a name is never ours.
            if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                name.push(char::from(b.to_ascii_lowercase()));
            } else {
                name.push_str(&format!("\\{b:03}"));
            }
        }
        i += len;
    }
    let qtype = u16_at(msg, i).ok_or_else(formerr)?;
    let qclass = u16_at(msg, i + 2).ok_or_else(formerr)?;
    let question = msg[12..i + 4].to_vec();
    Ok(Query {
        id: u16::from_be_bytes([msg[0], msg[1]]),
        rd: msg[2] & 0x01 != 0,
        name,
        plain,
        qtype,
        qclass,
        question,
    })
}

/// Whether the query asks in class IN (others are refused as not implemented).
pub fn is_in_class(q: &Query) -> bool {
    q.qclass == CLASS_IN
}

fn header(q: &Query, rcode: u8, answers: u16) -> Vec<u8> {
    let mut r = Vec::with_capacity(MAX_ANSWER);
    r.extend_from_slice(&q.id.to_be_bytes());
    // QR, authoritative for the names it answers itself, RD echoed; RA.
    r.push(0x84 | u8::from(q.rd));
    r.push(0x80 | (rcode & 0x0f));
    r.extend_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&answers.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&q.question);
    r
}

/// A reply with `rcode` and no records (NODATA with RCODE_OK, NXDOMAIN, SERVFAIL...).
pub fn empty_reply(q: &Query, rcode: u8) -> Vec<u8> {
    header(q, rcode, 0)
}

/// A reply to an A query with these addresses (as many as fit in 512 bytes).
pub fn a_reply(q: &Query, addrs: &[Ipv4Addr]) -> Vec<u8> {
    let room = MAX_ANSWER.saturating_sub(12 + q.question.len()) / 16;
    let addrs = &addrs[..addrs.len().min(room).min(usize::from(u16::MAX))];
    let mut r = header(q, RCODE_OK, u16::try_from(addrs.len()).unwrap_or(0));
    for a in addrs {
        // The name is a pointer to the question's (offset 12).
        r.extend_from_slice(&[0xc0, 0x0c]);
        r.extend_from_slice(&TYPE_A.to_be_bytes());
        r.extend_from_slice(&CLASS_IN.to_be_bytes());
        r.extend_from_slice(&TTL.to_be_bytes());
        r.extend_from_slice(&4u16.to_be_bytes());
        r.extend_from_slice(&a.octets());
    }
    r
}

/// A reply to an AAAA query with these addresses (as many as fit in 512 bytes).
pub fn aaaa_reply(q: &Query, addrs: &[std::net::Ipv6Addr]) -> Vec<u8> {
    let room = MAX_ANSWER.saturating_sub(12 + q.question.len()) / 28;
    let addrs = &addrs[..addrs.len().min(room).min(usize::from(u16::MAX))];
    let mut r = header(q, RCODE_OK, u16::try_from(addrs.len()).unwrap_or(0));
    for a in addrs {
        r.extend_from_slice(&[0xc0, 0x0c]);
        r.extend_from_slice(&TYPE_AAAA.to_be_bytes());
        r.extend_from_slice(&CLASS_IN.to_be_bytes());
        r.extend_from_slice(&TTL.to_be_bytes());
        r.extend_from_slice(&16u16.to_be_bytes());
        r.extend_from_slice(&a.octets());
    }
    r
}

/// A reply to a PTR query naming `target` (labels of [a-z0-9_.-], at most 253 bytes; a
/// target that is not such a name gives NXDOMAIN).
pub fn ptr_reply(q: &Query, target: &str) -> Vec<u8> {
    let mut rdata = Vec::with_capacity(target.len() + 2);
    for label in target.split('.') {
        let Ok(len) = u8::try_from(label.len()) else {
            return empty_reply(q, RCODE_NXDOMAIN);
        };
        if len == 0 || len > 63 {
            return empty_reply(q, RCODE_NXDOMAIN);
        }
        rdata.push(len);
        rdata.extend_from_slice(label.as_bytes());
    }
    rdata.push(0);
    if rdata.len() > 255 || 12 + q.question.len() + 12 + rdata.len() > MAX_ANSWER {
        return empty_reply(q, RCODE_NXDOMAIN);
    }
    let mut r = header(q, RCODE_OK, 1);
    r.extend_from_slice(&[0xc0, 0x0c]);
    r.extend_from_slice(&TYPE_PTR.to_be_bytes());
    r.extend_from_slice(&CLASS_IN.to_be_bytes());
    r.extend_from_slice(&TTL.to_be_bytes());
    r.extend_from_slice(&u16::try_from(rdata.len()).unwrap_or(0).to_be_bytes());
    r.extend_from_slice(&rdata);
    r
}

/// The address a reverse name (`d.c.b.a.in-addr.arpa`) stands for.
pub fn ptr_address(name: &str) -> Option<Ipv4Addr> {
    let rest = name.strip_suffix(".in-addr.arpa")?;
    let mut o = [0u8; 4];
    let mut parts = rest.split('.');
    for slot in o.iter_mut().rev() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(o))
}

/// The query as sent upstream: the same bytes under the id `id`.
pub fn with_id(msg: &[u8], id: u16) -> Vec<u8> {
    let mut m = msg.to_vec();
    if m.len() >= 2 {
        m[..2].copy_from_slice(&id.to_be_bytes());
    }
    m
}

/// Whether `reply` answers the query sent with `id` and `question`: a response with that
/// id and the same question (case aside).
pub fn reply_matches(reply: &[u8], id: u16, question: &[u8]) -> bool {
    reply.len() <= MAX_MESSAGE && tcp_reply_matches(reply, id, question)
}

/// The same for a reply received over TCP, which may be up to 65,535 bytes long.
pub fn tcp_reply_matches(reply: &[u8], id: u16, question: &[u8]) -> bool {
    reply.len() >= 12 + question.len()
        && reply.len() <= usize::from(u16::MAX)
        && reply[..2] == id.to_be_bytes()
        && reply[2] & 0x80 != 0
        && u16_at(reply, 4) == Some(1)
        && reply[12..12 + question.len()].eq_ignore_ascii_case(question)
}

/// Whether a reply has the TC (truncated) bit set.
pub fn is_truncated(reply: &[u8]) -> bool {
    reply.get(2).is_some_and(|b| b & 0x02 != 0)
}

/// The offset just past the (possibly compressed) name at `i`, if it is within `msg`.
fn skip_name(msg: &[u8], mut i: usize) -> Option<usize> {
    // At most 128 labels in 255 bytes.
    for _ in 0..128 {
        let len = *msg.get(i)?;
        if len & 0xc0 == 0xc0 {
            return (i + 2 <= msg.len()).then_some(i + 2);
        }
        if len & 0xc0 != 0 {
            return None;
        }
        i += 1 + usize::from(len);
        if len == 0 {
            return (i <= msg.len()).then_some(i);
        }
    }
    None
}

/// The largest UDP answer the client of `query` takes: the payload size of its EDNS0 OPT
/// record (between 512 and `MAX_MESSAGE`), else 512.
pub fn udp_limit(query: &[u8]) -> usize {
    let size = || -> Option<usize> {
        if u16_at(query, 10)? == 0 {
            return None;
        }
        let mut i = skip_name(query, 12)? + 4;
        // Skip answer and authority records (none in a query we forward), then the OPT.
        let (an, ns) = (u16_at(query, 6)?, u16_at(query, 8)?);
        for _ in 0..(u32::from(an) + u32::from(ns)) {
            i = skip_name(query, i)?;
            i += 10 + usize::from(u16_at(query, i + 8)?);
        }
        let j = skip_name(query, i)?;
        (u16_at(query, j)? == 41).then_some(usize::from(u16_at(query, j + 2)?))
    };
    size().unwrap_or(MAX_ANSWER).clamp(MAX_ANSWER, MAX_MESSAGE)
}

/// `reply` cut down to at most `limit` bytes for a UDP client: the header, the question
/// and as many whole answer records as fit, the other sections left out, TC set (the
/// client may ask again over TCP for the rest). None when even the question does not fit
/// or the reply cannot be walked.
pub fn truncate(reply: &[u8], limit: usize) -> Option<Vec<u8>> {
    if u16_at(reply, 4)? != 1 {
        return None;
    }
    let mut end = skip_name(reply, 12)? + 4;
    if end > limit || end > reply.len() {
        return None;
    }
    let mut kept = 0u16;
    for _ in 0..u16_at(reply, 6)? {
        let Some(name_end) = skip_name(reply, end) else {
            break;
        };
        let Some(rdlen) = u16_at(reply, name_end + 8) else {
            break;
        };
        let next = name_end + 10 + usize::from(rdlen);
        if next > reply.len() || next > limit {
            break;
        }
        end = next;
        kept += 1;
    }
    let mut out = reply[..end].to_vec();
    out[2] |= 0x02;
    out[6..8].copy_from_slice(&kept.to_be_bytes());
    out[8..12].fill(0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.').filter(|l| !l.is_empty()) {
            m.push(u8::try_from(l.len()).unwrap());
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m
    }

    #[test]
    fn parses_and_answers() {
        let q = parse_query(&query("Web.Example", TYPE_A)).unwrap();
        assert_eq!(q.id, 0x1234);
        assert!(q.rd && q.plain && is_in_class(&q));
        assert_eq!((q.name.as_str(), q.qtype), ("web.example", TYPE_A));
        let r = a_reply(&q, &["10.0.0.2".parse().unwrap()]);
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[3] & 0x0f, RCODE_OK);
        assert_eq!(u16_at(&r, 6), Some(1));
        assert_eq!(&r[r.len() - 4..], &[10, 0, 0, 2]);
        assert!(reply_matches(&r, 0x1234, &q.question));
        assert!(!reply_matches(&r, 0x1235, &q.question));
        // Hundreds of addresses: capped to 512 bytes.
        let many = vec![Ipv4Addr::new(10, 0, 0, 1); 1000];
        assert!(a_reply(&q, &many).len() <= MAX_ANSWER);
        let nx = empty_reply(&q, RCODE_NXDOMAIN);
        assert_eq!((nx[3] & 0x0f, u16_at(&nx, 6)), (RCODE_NXDOMAIN, Some(0)));
        let p = parse_query(&query("2.0.0.10.in-addr.arpa", TYPE_PTR)).unwrap();
        assert_eq!(ptr_address(&p.name), Some(Ipv4Addr::new(10, 0, 0, 2)));
        let r = ptr_reply(&p, "web.net");
        assert!(r.ends_with(&[3, b'w', b'e', b'b', 3, b'n', b'e', b't', 0]));
        assert_eq!(
            ptr_reply(&p, &"x".repeat(64))[3] & 0x0f,
            RCODE_NXDOMAIN,
            "a label longer than 63"
        );
        for bad in [
            "1.2.3.in-addr.arpa",
            "01.0.0.10.in-addr.arpa",
            "256.0.0.1.in-addr.arpa",
        ] {
            assert_eq!(ptr_address(bad), None, "{bad}");
        }
        assert_eq!(with_id(&query("a", 1), 7)[..2], [0, 7]);
    }

    #[test]
    fn random_packets_never_panic() {
        // A fixed xorshift stream: 100,000 messages of 0 to 600 bytes, most with a
        // query's header (so that the name and question code runs), some fully random.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut parsed = 0;
        for i in 0..100_000u32 {
            let len = usize::try_from(next() % 600).unwrap();
            let mut m: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            if i % 4 != 0 && m.len() >= 12 {
                m[2] &= 0x01;
                m[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
                // Short labels, so that names end inside the message now and then.
                for b in m[12..].iter_mut() {
                    *b %= 24;
                }
            }
            match parse_query(&m) {
                Ok(q) => {
                    parsed += 1;
                    assert!(q.question.len() <= m.len() - 12);
                    assert!(a_reply(&q, &[Ipv4Addr::LOCALHOST; 40]).len() <= MAX_ANSWER);
                    let _ = ptr_reply(&q, &q.name);
                }
                Err(Bad::Reply(r)) => assert_eq!(r.len(), 12),
                Err(Bad::Drop) => {}
            }
        }
        assert!(
            parsed > 100,
            "only {parsed} parsed: the generator tests too little"
        );
    }

    #[test]
    fn malformed_packets() {
        let formerr = |m: &[u8]| match parse_query(m) {
            Err(Bad::Reply(r)) => {
                assert_eq!(&r[..2], &m[..2]);
                r[3] & 0x0f
            }
            other => panic!("{other:?} for {m:?}"),
        };
        // No header, or a response: dropped.
        assert_eq!(parse_query(&[]), Err(Bad::Drop));
        assert_eq!(parse_query(&[0; 11]), Err(Bad::Drop));
        let mut resp = query("a", TYPE_A);
        resp[2] |= 0x80;
        assert_eq!(parse_query(&resp), Err(Bad::Drop));
        assert_eq!(parse_query(&vec![0; MAX_MESSAGE + 1]), Err(Bad::Drop));
        // Header only, no question.
        assert_eq!(
            formerr(&[1, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
            RCODE_FORMERR
        );
        // Two questions; answers in a query.
        let mut two = query("a", TYPE_A);
        two[5] = 2;
        assert_eq!(formerr(&two), RCODE_FORMERR);
        let mut ans = query("a", TYPE_A);
        ans[7] = 1;
        assert_eq!(formerr(&ans), RCODE_FORMERR);
        // A label running past the end; a missing type; a compression pointer (a loop).
        assert_eq!(
            formerr(&[1, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, b'a']),
            RCODE_FORMERR
        );
        assert_eq!(
            formerr(&[1, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0]),
            RCODE_FORMERR
        );
        assert_eq!(
            formerr(&[1, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]),
            RCODE_FORMERR
        );
        // A name longer than 255 bytes.
        let long = vec!["a".repeat(63); 5].join(".");
        assert_eq!(formerr(&query(&long, TYPE_A)), RCODE_FORMERR);
        // Another opcode (status, update): not implemented.
        let mut upd = query("a", TYPE_A);
        upd[2] = 0x28;
        assert_eq!(formerr(&upd), RCODE_NOTIMP);
        // Odd bytes in a label: parsed, never ours.
        let mut odd = query("ab", TYPE_A);
        odd[13] = 0;
        odd[14] = b'.';
        let q = parse_query(&odd).unwrap();
        assert!(!q.plain);
        assert_eq!(q.name, "\\000\\046");
        // Every truncation of a valid query, and every single-byte change, parses or
        // is refused without a panic.
        let good = query("web.net", TYPE_AAAA);
        for n in 0..good.len() {
            let _ = parse_query(&good[..n]);
        }
        for i in 0..good.len() {
            for b in [0u8, 0x3f, 0x40, 0xc0, 0xff] {
                let mut m = good.clone();
                m[i] = b;
                if let Ok(q) = parse_query(&m) {
                    let _ = a_reply(&q, &[Ipv4Addr::LOCALHOST]);
                    let _ = ptr_reply(&q, &q.name);
                }
            }
        }
    }

    #[test]
    fn udp_limits_and_truncation() {
        let q = query("big.test", TYPE_A);
        assert_eq!(udp_limit(&q), 512);
        let mut e = q.clone();
        e[11] = 1;
        e.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(udp_limit(&e), 1232);
        // Past MAX_MESSAGE: MAX_MESSAGE; garbage: 512.
        let mut big = e.clone();
        let n = big.len();
        big[n - 8] = 0xff;
        assert_eq!(udp_limit(&big), MAX_MESSAGE);
        assert_eq!(udp_limit(&e[..e.len() - 9]), 512);

        // A reply with 60 A records (compressed names), then one in the additional section.
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 60;
        r[11] = 1;
        for k in 0..60u8 {
            r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, k]);
        }
        r.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        let t = truncate(&r, 512).unwrap();
        let fit = (512 - q.len()) / 16;
        assert_eq!(t.len(), q.len() + fit * 16);
        assert!(is_truncated(&t) && !is_truncated(&r));
        assert_eq!((t[6], t[7]), (0, u8::try_from(fit).unwrap()));
        assert_eq!(&t[8..12], &[0, 0, 0, 0]);
        assert_eq!(&t[..2], &r[..2]);
        // Everything fits: all the answers, still without the other sections.
        let all = truncate(&r, 4096).unwrap();
        assert_eq!(all[7], 60);
        // Not even the question, or a record that runs past the end: what can be kept.
        assert_eq!(truncate(&r, 20), None);
        assert_eq!(truncate(&r[..q.len() + 20], 512).unwrap()[7], 1);
        assert_eq!(truncate(&r[..11], 512), None);
    }
}
