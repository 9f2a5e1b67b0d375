//! IPv4 subnets: parsing, arithmetic, the private pools new networks take their subnets
//! from (Docker's defaults), and the host's routes they must avoid.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::error::{Error, Result};

/// An IPv4 subnet: its network address and prefix length (host bits are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl Ipv4Net {
    /// The subnet of `addr`/`prefix` (host bits dropped); `None` for a prefix over 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Net> {
        (prefix <= 32).then(|| Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    /// Parses "A.B.C.D/N" and refuses host bits (`what` names the flag in errors).
    pub fn parse_strict(s: &str, what: &str) -> Result<Ipv4Net> {
        let bad = |r: String| Error::invalid(format!("{what} {s:?}"), r);
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| bad("it is not in CIDR notation (A.B.C.D/N)".into()))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| bad(format!("{a:?} is not an IPv4 address")))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|n| *n <= 32)
            .ok_or_else(|| bad(format!("{p:?} is not a prefix length from 0 to 32")))?;
        let net = Ipv4Net::new(addr, prefix).ok_or_else(|| bad("bad prefix".into()))?;
        if net.addr != addr {
            return Err(bad(format!("it has host bits set: it should be {net}")));
        }
        Ok(net)
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// Whether `other` lies wholly inside this subnet.
    pub fn covers(&self, other: &Ipv4Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    /// The broadcast address (the last one).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    /// The `n`th address of the subnet (0 is the network address), if inside it.
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - u32::from(self.prefix));
        (u64::from(n) < size).then(|| Ipv4Addr::from(u32::from(self.addr).wrapping_add(n)))
    }

    /// The addresses a host may take: all but the network and broadcast addresses (for
    /// /31 and /32, every one).
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> + use<> {
        let first = u32::from(self.addr);
        let last = u32::from(self.broadcast());
        let (lo, hi) = if self.prefix >= 31 {
            (first, last)
        } else {
            (first + 1, last - 1)
        };
        (lo..=hi).map(Ipv4Addr::from)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = Error;

    fn from_str(s: &str) -> Result<Ipv4Net> {
        Ipv4Net::parse_strict(s, "subnet")
    }
}

/// A pool new networks take subnets from: `base` cut into subnets of `size` bits (as
/// Docker's `default-address-pools`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub base: Ipv4Net,
    pub size: u8,
}

impl Pool {
    /// Checks that `size` can cut `base`.
    pub fn new(base: Ipv4Net, size: u8) -> Result<Pool> {
        if size < base.prefix || size > 30 {
            return Err(Error::invalid(
                format!("address pool {base} size {size}"),
                format!("the size must be from {} to 30", base.prefix),
            ));
        }
        Ok(Pool { base, size })
    }

    /// Docker's default pools: 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16 in /20s.
    pub fn docker_defaults() -> Vec<Pool> {
        vec![
            Pool {
                base: Ipv4Net::new(Ipv4Addr::new(172, 17, 0, 0), 16).expect("valid"),
                size: 16,
            },
            Pool {
                base: Ipv4Net::new(Ipv4Addr::new(172, 18, 0, 0), 15).expect("valid"),
                size: 16,
            },
            Pool {
                base: Ipv4Net::new(Ipv4Addr::new(172, 20, 0, 0), 14).expect("valid"),
                size: 16,
            },
            Pool {
                base: Ipv4Net::new(Ipv4Addr::new(172, 24, 0, 0), 14).expect("valid"),
                size: 16,
            },
            Pool {
                base: Ipv4Net::new(Ipv4Addr::new(172, 28, 0, 0), 14).expect("valid"),
                size: 16,
            },
            Pool {
                base: Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("valid"),
                size: 20,
            },
        ]
    }

    /// The subnets of this pool, in order.
    pub fn subnets(&self) -> impl Iterator<Item = Ipv4Net> + use<> {
        let count = 1u32 << (self.size - self.base.prefix);
        let step = 1u64 << (32 - u32::from(self.size));
        let base = u64::from(u32::from(self.base.addr));
        let size = self.size;
        (0..count).filter_map(move |i| {
            let a = u32::try_from(base + u64::from(i) * step).ok()?;
            Ipv4Net::new(Ipv4Addr::from(a), size)
        })
    }
}

/// The first subnet of `pools` that overlaps none of `taken` (other networks' subnets and
/// the host's routes).
pub fn pick(pools: &[Pool], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    pools
        .iter()
        .flat_map(|p| p.subnets())
        .find(|s| !taken.iter().any(|t| t.overlaps(s)))
}

/// The destinations of the host's IPv4 routes (this network namespace's), the default
/// route left out: a new network's subnet must not shadow any of them.
pub fn host_routes() -> Vec<Ipv4Net> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    parse_proc_route(&text)
}

fn parse_proc_route(text: &str) -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dest), Some(m)) = (f.get(1), f.get(7)) else {
            continue;
        };
        let (Ok(dest), Ok(m)) = (u32::from_str_radix(dest, 16), u32::from_str_radix(m, 16)) else {
            continue;
        };
        // The kernel prints the network-order words as host-order numbers.
        let dest = Ipv4Addr::from(dest.to_ne_bytes());
        let prefix = m.count_ones();
        if prefix == 0 {
            continue;
        }
        if let Some(n) = u8::try_from(prefix)
            .ok()
            .and_then(|p| Ipv4Net::new(dest, p))
        {
            out.push(n);
        }
    }
    out
}

/// Parses a MAC address "aa:bb:cc:dd:ee:ff" (a unicast one).
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = || {
        Error::invalid(
            format!("MAC address {s:?}"),
            "use six hex bytes: 02:42:ac:11:00:02",
        )
    };
    let mut out = [0u8; 6];
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if out[0] & 1 == 1 {
        return Err(Error::invalid(
            format!("MAC address {s:?}"),
            "it is a multicast address",
        ));
    }
    Ok(out)
}

/// Formats a MAC address as Docker prints it.
pub fn format_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The MAC address Docker derives from an IPv4 address: 02:42 and the four bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_arithmetic() {
        let n: Ipv4Net = "172.18.0.0/16".parse().unwrap();
        assert!(n.contains("172.18.3.4".parse().unwrap()));
        assert!(!n.contains("172.19.0.1".parse().unwrap()));
        assert_eq!(n.broadcast(), Ipv4Addr::new(172, 18, 255, 255));
        assert_eq!(n.nth(1), Some(Ipv4Addr::new(172, 18, 0, 1)));
        assert_eq!(n.hosts().next(), Some(Ipv4Addr::new(172, 18, 0, 1)));
        let e = Ipv4Net::parse_strict("172.18.0.5/16", "--subnet").unwrap_err();
        assert!(e.to_string().contains("should be 172.18.0.0/16"), "{e}");
        assert!(Ipv4Net::parse_strict("172.18.0.0/33", "--subnet").is_err());
        assert!(Ipv4Net::parse_strict("nope", "--subnet").is_err());
        let small: Ipv4Net = "172.18.5.0/24".parse().unwrap();
        assert!(n.overlaps(&small) && small.overlaps(&n) && n.covers(&small));
        assert!(!small.covers(&n));
    }

    #[test]
    fn pools_skip_what_is_taken() {
        let pools = Pool::docker_defaults();
        assert_eq!(pick(&pools, &[]).unwrap().to_string(), "172.17.0.0/16");
        let taken = vec![
            "172.17.0.0/16".parse().unwrap(),
            "172.18.1.0/24".parse().unwrap(),
        ];
        assert_eq!(pick(&pools, &taken).unwrap().to_string(), "172.19.0.0/16");
        let all: Vec<Ipv4Net> = vec!["172.16.0.0/12".parse().unwrap()];
        assert_eq!(pick(&pools, &all).unwrap().to_string(), "192.168.0.0/20");
        let p = Pool::new("10.10.0.0/16".parse().unwrap(), 24).unwrap();
        assert_eq!(p.subnets().nth(2).unwrap().to_string(), "10.10.2.0/24");
        assert!(Pool::new("10.10.0.0/16".parse().unwrap(), 8).is_err());
    }

    #[test]
    fn proc_route() {
        let t = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                 eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(parse_proc_route(t), vec!["192.168.0.0/24".parse().unwrap()]);
    }

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("02:42:ac:11:00:02").unwrap(),
            [2, 0x42, 0xac, 0x11, 0, 2]
        );
        assert!(parse_mac("01:00:5e:00:00:01").is_err());
        assert!(parse_mac("zz:42:ac:11:00:02").is_err());
        assert_eq!(
            format_mac(&mac_for(Ipv4Addr::new(172, 17, 0, 2))),
            "02:42:ac:11:00:02"
        );
    }
}
