//! IPv6 subnets: parsing, arithmetic, and the default pool of `--ipv6` networks given no
//! IPv6 subnet (current Docker's: unique local /64s of a /48 whose global ID is derived
//! from the engine's ID, RFC 4193).

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use crate::error::{Error, Result};

/// An IPv6 subnet: its network address and prefix length (host bits are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Net {
    addr: Ipv6Addr,
    prefix: u8,
}

fn mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl Ipv6Net {
    /// The subnet of `addr`/`prefix` (host bits dropped); `None` for a prefix over 128.
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Option<Ipv6Net> {
        (prefix <= 128).then(|| Ipv6Net {
            addr: Ipv6Addr::from(u128::from(addr) & mask(prefix)),
            prefix,
        })
    }

    /// Parses "ADDR/N" and refuses host bits (`what` names the flag in errors).
    pub fn parse_strict(s: &str, what: &str) -> Result<Ipv6Net> {
        let bad = |r: String| Error::invalid(format!("{what} {s:?}"), r);
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| bad("it is not in CIDR notation (ADDR/N)".into()))?;
        let addr: Ipv6Addr = a
            .parse()
            .map_err(|_| bad(format!("{a:?} is not an IPv6 address")))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|n| *n <= 128)
            .ok_or_else(|| bad(format!("{p:?} is not a prefix length from 0 to 128")))?;
        let net = Ipv6Net::new(addr, prefix).ok_or_else(|| bad("bad prefix".into()))?;
        if net.addr != addr {
            return Err(bad(format!("it has host bits set: it should be {net}")));
        }
        Ok(net)
    }

    /// The network address.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this subnet.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask(self.prefix) == u128::from(self.addr)
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &Ipv6Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// Whether `other` lies wholly inside this subnet.
    pub fn covers(&self, other: &Ipv6Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    /// The `n`th address of the subnet (0 is the network address, the subnet-router
    /// anycast address), if inside it.
    pub fn nth(&self, n: u128) -> Option<Ipv6Addr> {
        let host_bits = 128 - u32::from(self.prefix);
        let fits = host_bits >= 128 || n < (1u128 << host_bits);
        fits.then(|| Ipv6Addr::from(u128::from(self.addr).wrapping_add(n)))
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv6Net {
    type Err = Error;

    fn from_str(s: &str) -> Result<Ipv6Net> {
        Ipv6Net::parse_strict(s, "subnet")
    }
}

/// The unique local /48 of an engine: fd00::/8 and a 40-bit global ID taken from
/// `seed` (the first five bytes of a digest of the engine's ID), as current Docker's
/// default IPv6 pool.
pub fn ula_base(seed: [u8; 5]) -> Ipv6Net {
    let mut o = [0u8; 16];
    o[0] = 0xfd;
    o[1..6].copy_from_slice(&seed);
    Ipv6Net::new(Ipv6Addr::from(o), 48).expect("48 is a valid prefix")
}

/// An IPv6 pool new networks take subnets from: `base` cut into subnets of `size` bits
/// (an IPv6 entry of `default-address-pools`, as in Docker's daemon.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool6 {
    pub base: Ipv6Net,
    pub size: u8,
}

impl Pool6 {
    /// Checks that `size` can cut `base` (subnets of /64 to /124).
    pub fn new(base: Ipv6Net, size: u8) -> Result<Pool6> {
        if size < base.prefix || !(64..=124).contains(&size) {
            return Err(Error::invalid(
                format!("address pool {base} size {size}"),
                format!("the size must be from {} to 124", base.prefix.max(64)),
            ));
        }
        Ok(Pool6 { base, size })
    }

    /// The first 65536 subnets of this pool, in order (enough for any host).
    pub fn subnets(&self) -> impl Iterator<Item = Ipv6Net> + use<> {
        let bits = u32::from(self.size - self.base.prefix);
        let count: u128 = if bits >= 16 { 65536 } else { 1u128 << bits };
        let step_shift = 128 - u32::from(self.size);
        let base = u128::from(self.base.addr);
        let size = self.size;
        (0..count).filter_map(move |i| Ipv6Net::new(Ipv6Addr::from(base + (i << step_shift)), size))
    }
}

/// The first subnet of `pools` that overlaps none of `taken`.
pub fn pick(pools: &[Pool6], taken: &[Ipv6Net]) -> Option<Ipv6Net> {
    pools
        .iter()
        .flat_map(|p| p.subnets())
        .find(|s| !taken.iter().any(|t| t.overlaps(s)))
}

/// The first /64 of `base` (a /48 or wider) that overlaps none of `taken`.
pub fn pick64(base: Ipv6Net, taken: &[Ipv6Net]) -> Option<Ipv6Net> {
    pick(&[Pool6 { base, size: 64 }], taken)
}

/// The destinations of the host's IPv6 routes (this network namespace's) a new network's
/// subnet must not shadow: global and unique local ones, the default route left out.
pub fn host_routes() -> Vec<Ipv6Net> {
    let text = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    parse_proc_route(&text)
}

fn parse_proc_route(text: &str) -> Vec<Ipv6Net> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dest), Some(len)) = (f.first(), f.get(1)) else {
            continue;
        };
        let (Ok(dest), Ok(len)) = (u128::from_str_radix(dest, 16), u8::from_str_radix(len, 16))
        else {
            continue;
        };
        let addr = Ipv6Addr::from(dest);
        // The default route, link-local, multicast and loopback routes are everywhere.
        let first = addr.segments()[0];
        if len == 0 || (first & 0xffc0) == 0xfe80 || (first & 0xff00) == 0xff00 || len == 128 {
            continue;
        }
        if let Some(n) = Ipv6Net::new(addr, len) {
            out.push(n);
        }
    }
    out
}

/// The label under ip6.arpa of an IPv6 address (32 nibbles, least significant first).
pub fn ptr_name(ip: Ipv6Addr) -> String {
    let mut s = String::with_capacity(72);
    for b in ip.octets().iter().rev() {
        s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
    }
    s.push_str("ip6.arpa");
    s
}

/// The IPv6 address a reverse name under ip6.arpa stands for (any case, with or without
/// the final dot); None for anything else.
pub fn ptr_address(name: &str) -> Option<Ipv6Addr> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let nibbles = name.strip_suffix(".ip6.arpa")?;
    let parts: Vec<&str> = nibbles.split('.').collect();
    if parts.len() != 32 {
        return None;
    }
    let mut v: u128 = 0;
    for p in parts.iter().rev() {
        if p.len() != 1 {
            return None;
        }
        v = (v << 4) | u128::from(u8::from_str_radix(p, 16).ok()?);
    }
    Some(Ipv6Addr::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_arithmetic() {
        let n: Ipv6Net = "2001:db8:1::/64".parse().unwrap();
        assert!(n.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!n.contains("2001:db8:2::5".parse().unwrap()));
        assert_eq!(n.nth(1), Some("2001:db8:1::1".parse().unwrap()));
        let e = Ipv6Net::parse_strict("2001:db8:1::5/64", "--subnet").unwrap_err();
        assert!(e.to_string().contains("should be 2001:db8:1::/64"), "{e}");
        assert!(Ipv6Net::parse_strict("2001:db8::/129", "--subnet").is_err());
        assert!(Ipv6Net::parse_strict("10.0.0.0/8", "--subnet").is_err());
        let small: Ipv6Net = "2001:db8:1::/80".parse().unwrap();
        assert!(n.covers(&small) && !small.covers(&n) && small.overlaps(&n));
        let host: Ipv6Net = "2001:db8::1/128".parse().unwrap();
        assert_eq!(host.nth(0), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(host.nth(1), None);
    }

    #[test]
    fn ula_pool() {
        let base = ula_base([0x12, 0x34, 0x56, 0x78, 0x9a]);
        assert_eq!(base.to_string(), "fd12:3456:789a::/48");
        assert_eq!(
            pick64(base, &[]).unwrap().to_string(),
            "fd12:3456:789a::/64"
        );
        let taken = vec!["fd12:3456:789a::/64".parse().unwrap()];
        assert_eq!(
            pick64(base, &taken).unwrap().to_string(),
            "fd12:3456:789a:1::/64"
        );
        assert_eq!(pick64(base, &[base]), None);
        let p = Pool6::new("fd00:1::/56".parse().unwrap(), 64).unwrap();
        assert_eq!(p.subnets().nth(3).unwrap().to_string(), "fd00:1:0:3::/64");
        assert_eq!(p.subnets().count(), 256);
        assert!(Pool6::new("fd00:1::/56".parse().unwrap(), 48).is_err());
        assert!(Pool6::new("fd00:1::/56".parse().unwrap(), 126).is_err());
    }

    #[test]
    fn proc_route() {
        let t = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00200200       lo\n\
                 20010db8000100000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
                 fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        assert_eq!(
            parse_proc_route(t),
            vec!["2001:db8:1::/64".parse::<Ipv6Net>().unwrap()]
        );
    }

    #[test]
    fn reverse_names() {
        let ip: Ipv6Addr = "2001:db8::567:89ab".parse().unwrap();
        let n = ptr_name(ip);
        assert_eq!(
            n,
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(ptr_address(&n), Some(ip));
        assert_eq!(ptr_address(&format!("{}.", n.to_uppercase())), Some(ip));
        assert_eq!(ptr_address("1.0.0.127.in-addr.arpa"), None);
        assert_eq!(ptr_address("x.ip6.arpa"), None);
    }
}
