//! `-p [ip:][hostPort:]containerPort[/tcp|udp|sctp]`, as Docker's nat.ParsePortSpec, with
//! its words for bad input; stricter where Docker takes nonsense (container port 0, a
//! range "1-2-3"), and IPv4 only (Berth's networks have no IPv6 yet).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::config::PortBinding;
use crate::error::Result;

/// A port or a range "A-B" (A ≤ B, both 0-65535): None if it is not one.
pub fn port_range(s: &str) -> Option<(u16, u16)> {
    let num = |x: &str| {
        (!x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse::<u16>().ok())
            .flatten()
    };
    match s.split_once('-') {
        None => num(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            (a <= b).then_some((a, b))
        }
    }
}

/// The `-p` flags: each container port ("80/tcp") with its bindings, in Docker's form.
pub fn port_bindings(specs: &[String]) -> Result<BTreeMap<String, Vec<PortBinding>>> {
    let mut out: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for raw in specs {
        let parts: Vec<&str> = raw.split(':').collect();
        let n = parts.len();
        let container = parts[n - 1];
        let (ip, host) = match n {
            1 => (String::new(), ""),
            2 => (String::new(), parts[0]),
            _ => (parts[..n - 2].join(":"), parts[n - 2]),
        };
        let (container, proto) = match container.split_once('/') {
            Some((c, p)) => (c, p),
            None => (container, "tcp"),
        };
        let ip = ip
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .map(str::to_string)
            .unwrap_or(ip);
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            bail!("invalid IP address: {ip}");
        }
        if container.is_empty() {
            bail!("no port specified: {raw}<empty>");
        }
        let (start, end) = port_range(container)
            .filter(|(s, _)| *s > 0)
            .ok_or_else(|| {
                crate::Error::InvalidValue(format!("invalid containerPort: {container}"))
            })?;
        let hrange =
            if host.is_empty() {
                None
            } else {
                Some(port_range(host).ok_or_else(|| {
                    crate::Error::InvalidValue(format!("invalid hostPort: {host}"))
                })?)
            };
        if let Some((hs, he)) = hrange
            && he - hs != end - start
            && start != end
        {
            bail!("invalid ranges specified for container and host Ports: {container} and {host}");
        }
        let Some(proto) = berth_network::Proto::parse(proto) else {
            bail!("invalid proto: {proto}");
        };
        for i in 0..=(end - start) {
            let host_port = match hrange {
                None => String::new(),
                Some((hs, he)) if start == end && hs != he => format!("{hs}-{he}"),
                Some((hs, _)) => (hs + i).to_string(),
            };
            let b = PortBinding {
                host_ip: ip.clone(),
                host_port,
            };
            let list = out.entry(format!("{}/{proto}", start + i)).or_default();
            if !list.contains(&b) {
                list.push(b);
            }
        }
    }
    Ok(out)
}

/// The host address of a binding (None: every address).
pub(crate) fn host_ip(b: &PortBinding) -> Result<Option<Ipv4Addr>> {
    if b.host_ip.is_empty() || b.host_ip == "0.0.0.0" {
        return Ok(None);
    }
    match b.host_ip.parse() {
        Ok(ip) => Ok(Some(ip)),
        Err(_) => bail!("invalid IP address: {}", b.host_ip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Result<BTreeMap<String, Vec<PortBinding>>> {
        port_bindings(&[s.to_string()])
    }

    fn msg(s: &str) -> String {
        one(s).unwrap_err().to_string()
    }

    #[test]
    fn docker_forms() {
        let m = one("8080:80/TCP").unwrap();
        assert_eq!(m["80/tcp"][0].host_port, "8080");
        let m = one("127.0.0.1::53/udp").unwrap();
        assert_eq!(m["53/udp"][0].host_ip, "127.0.0.1");
        assert_eq!(m["53/udp"][0].host_port, "");
        let m = one("8000-8002:90-92").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["92/tcp"][0].host_port, "8002");
        let m = one("7000-7005:99").unwrap();
        assert_eq!(m["99/tcp"][0].host_port, "7000-7005");
        assert_eq!(one("80").unwrap()["80/tcp"][0].host_port, "");
        assert_eq!(one("0:80").unwrap()["80/tcp"][0].host_port, "0");
        assert!(one("5000/sctp").is_ok());
    }

    #[test]
    fn docker_words_for_bad_input() {
        assert_eq!(msg("70000"), "invalid containerPort: 70000");
        assert_eq!(msg("80/foo"), "invalid proto: foo");
        assert_eq!(
            msg("8000-8010:80-85"),
            "invalid ranges specified for container and host Ports: 80-85 and 8000-8010"
        );
        assert_eq!(msg("1.2.3:80:80"), "invalid IP address: 1.2.3");
        assert_eq!(msg("80-70"), "invalid containerPort: 80-70");
        assert_eq!(msg("80:"), "no port specified: 80:<empty>");
        assert_eq!(msg("127.0.0.1:80"), "invalid hostPort: 127.0.0.1");
        assert_eq!(msg("0"), "invalid containerPort: 0");
        assert_eq!(msg("1-2-3"), "invalid containerPort: 1-2-3");
        assert_eq!(one("[::]:80:80").unwrap()["80/tcp"][0].host_ip, "::");
        assert_eq!(msg("[::x]:80:80"), "invalid IP address: ::x");
    }
}
