//! Listing containers as `ps` (and the API's `/containers/json`) shows them: Docker's
//! filters, its order (newest first), `-n`/`--latest`, sizes on demand, and its STATUS text
//! ("Up 3 minutes", "Exited (0) 2 seconds ago"); and `container prune`.

use std::collections::BTreeMap;

use crate::config::MountKind;
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::Result;
use crate::filters::{Filters, time_filter, unix_of};

/// What `list` returns.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Stopped containers too (`-a`).
    pub all: bool,
    /// At most this many, newest first (`-n`; `--latest` is 1); they include all states.
    pub limit: Option<usize>,
    /// Compute the writable layer's size and the image's (`-s`).
    pub size: bool,
    pub filters: Filters,
}

/// One container as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    /// The image as the user named it, and its ID.
    pub image: String,
    pub image_id: String,
    /// The command line as Docker's API shows it: the arguments after the first joined by
    /// spaces, each one that holds a space in single quotes.
    pub command: String,
    /// Creation time, RFC 3339, and seconds since the epoch.
    pub created: String,
    pub created_unix: i64,
    pub state: Status,
    /// Docker's STATUS text.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    /// Each volume's name and each bind's host path (tmpfs mounts are not listed, as in
    /// Docker's).
    pub mounts: Vec<String>,
    /// How many volumes it mounts.
    pub local_volumes: usize,
    /// The network mode in Docker's spelling.
    pub network: String,
    /// Its ports as Docker's API lists them (running on a bridge network only).
    pub ports: Vec<PortSummary>,
    /// With `size`: bytes in the writable layer, and those plus the image's.
    pub size_rw: Option<u64>,
    pub size_root_fs: Option<u64>,
}

/// One port of a container as Docker's API lists it: exposed only (no `ip`, public 0),
/// or published on `ip:public`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSummary {
    pub ip: String,
    pub private_port: u16,
    pub public_port: u16,
    pub proto: String,
}

const LIST_FILTERS: [&str; 14] = [
    "status", "name", "label", "ancestor", "exited", "id", "before", "since", "health", "volume",
    "network", "expose", "publish", "is-task",
];

/// Docker's container states, in its order (its error message lists them so).
const STATUSES: [&str; 7] = [
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
];

fn now() -> i64 {
    crate::time::now_unix()
}

/// Docker's `units.HumanDuration`: "Less than a second", "About a minute", "3 days"...
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 1 {
        return "Less than a second".into();
    }
    if s == 1 {
        return "1 second".into();
    }
    if s < 60 {
        return format!("{s} seconds");
    }
    let minutes = s / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Rounded to the nearest hour, as Go's `d.Hours() + 0.5` truncated.
    let hours = (s + 1800) / 3600;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", s / 3600 / 24 / 365)
}

impl Container {
    /// Docker's STATUS text: "Up 5 seconds (healthy)", "Exited (0) 3 seconds ago",
    /// "Created"...
    pub fn status_text(&self) -> String {
        let s = &self.state;
        let since = |t: &str| human_duration(now() - unix_of(t));
        let health = s
            .health
            .as_ref()
            .map(|h| match h.status.as_str() {
                "starting" => " (health: starting)".to_string(),
                "" => String::new(),
                other => format!(" ({other})"),
            })
            .unwrap_or_default();
        match s.status {
            Status::Running => format!("Up {}{health}", since(&s.started_at)),
            Status::Paused => format!("Up {} (Paused)", since(&s.started_at)),
            Status::Restarting => {
                format!("Restarting ({}) {} ago", s.exit_code, since(&s.finished_at))
            }
            Status::Exited => format!("Exited ({}) {} ago", s.exit_code, since(&s.finished_at)),
            Status::Created => "Created".into(),
            Status::Removing => "Removal In Progress".into(),
            Status::Dead => "Dead".into(),
        }
    }
}

/// Docker's `Command` of a container summary: the path, then the arguments, each one that
/// holds a space in single quotes (as `container/view.go` builds it).
pub(crate) fn docker_command(args: &[String]) -> String {
    let Some((path, rest)) = args.split_first() else {
        return String::new();
    };
    if rest.is_empty() {
        return path.clone();
    }
    let rest: Vec<String> = rest
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{path} {}", rest.join(" "))
}

/// Whether `c` passes the list filters (`all` is every container, for before=/since=).
fn matches(e: &Engine, f: &Filters, c: &Container, all: &[Container]) -> bool {
    let created_rel = |v: &str, newer: bool| {
        all.iter()
            .find(|o| o.name == v || o.id.starts_with(v))
            .is_some_and(|o| {
                if newer {
                    c.created > o.created
                } else {
                    c.created < o.created
                }
            })
    };
    f.any("status", |v| c.state.status.as_str() == v)
        && (f.any_match("name", &c.name) || f.any_match("name", &format!("/{}", c.name)))
        && f.any_match("id", &c.id)
        && f.any("exited", |v| {
            c.state.status == Status::Exited && v.parse() == Ok(c.state.exit_code)
        })
        && f.any("health", |v| {
            let h = c
                .state
                .health
                .as_ref()
                .map(|h| h.status.as_str())
                .unwrap_or("none");
            h == v
        })
        && f.labels_match("label", &c.config.labels)
        && f.any("ancestor", |v| {
            c.config.image == v
                || c.config
                    .image_id
                    .trim_start_matches("sha256:")
                    .starts_with(v.trim_start_matches("sha256:"))
                || e.store()
                    .ok()
                    .and_then(|s| s.resolve(v).ok())
                    .is_some_and(|i| i.id.to_string() == c.config.image_id)
        })
        && f.any("volume", |v| {
            c.config
                .host
                .mounts
                .iter()
                .any(|m| m.source == v || m.target == v)
        })
        && f.any("network", |v| {
            c.config.host.network_names().iter().any(|n| n == v)
        })
        && f.any("expose", |v| {
            let want = if v.contains('/') {
                v.to_string()
            } else {
                format!("{v}/tcp")
            };
            c.config.exposed_ports.contains(&want)
        })
        // Host ports (PORT[-PORT][/PROTO]) the container publishes; no container is a task.
        && f.any("publish", |v| {
            let (p, proto) = v.split_once('/').unwrap_or((v, "tcp"));
            let Some((lo, hi)) = crate::config::parse::port_range(p) else {
                return false;
            };
            e.container_ports(c).into_iter().any(|(k, b)| {
                k.ends_with(&format!("/{proto}"))
                    && b.unwrap_or_default()
                        .iter()
                        .any(|(_, hp)| (lo..=hi).contains(hp))
            })
        })
        && f.any("is-task", |v| matches!(v, "false" | "0"))
        && f.any("before", |v| created_rel(v, false))
        && f.any("since", |v| created_rel(v, true))
}

const HEALTHS: [&str; 4] = ["none", "starting", "healthy", "unhealthy"];

/// Refuses the values current Docker refuses: an `exited` that is not a number, a
/// `status` or `health` that is not one of its words, an `is-task` that is not a boolean.
fn check_list_filters(f: &Filters) -> Result<()> {
    f.check_values("exited", |v| {
        v.parse::<i32>()
            .err()
            .map(|_| format!("{v:?} is not an exit code"))
    })?;
    f.check_values("status", |v| one_of("state", &STATUSES, v))?;
    f.check_values("health", |v| one_of("health", &HEALTHS, v))?;
    f.check_values("is-task", |v| {
        (!matches!(v, "true" | "false" | "1" | "0")).then(|| "not a boolean".to_string())
    })
}

/// Docker's "invalid value for WHAT (V): must be one of A, B" unless `v` is in `words`.
fn one_of(what: &str, words: &[&str], v: &str) -> Option<String> {
    (!words.contains(&v)).then(|| {
        format!(
            "invalid value for {what} ({v}): must be one of {}",
            words.join(", ")
        )
    })
}

impl Engine {
    /// The containers `o` selects, newest first.
    pub fn list(&self, o: &ListOptions) -> Result<Vec<ContainerSummary>> {
        let f = &o.filters;
        f.check_keys(&LIST_FILTERS)?;
        check_list_filters(f)?;
        let all = self.containers()?;
        let mut list: Vec<&Container> = all.iter().collect();
        list.sort_by(|x, y| y.created.cmp(&x.created));
        let show_all = o.all
            || o.limit.is_some()
            || f.get("status").iter().any(|s| s != "running")
            || !f.get("exited").is_empty();
        list.retain(|c| (show_all || c.state.status.is_live()) && matches(self, f, c, &all));
        if let Some(n) = o.limit {
            list.truncate(n);
        }
        Ok(list.into_iter().map(|c| self.summary(c, o.size)).collect())
    }

    fn summary(&self, c: &Container, size: bool) -> ContainerSummary {
        let h = &c.config.host;
        let (size_rw, size_root_fs) = if size {
            let rw = self.rw_size(&c.id);
            let image = self
                .store()
                .ok()
                .and_then(|s| s.resolve(&c.config.image_id).ok())
                .map(|i| i.size)
                .unwrap_or(0);
            (Some(rw), Some(rw + image))
        } else {
            (None, None)
        };
        ContainerSummary {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.config.image.clone(),
            image_id: c.config.image_id.clone(),
            command: docker_command(&c.config.resolved_args),
            created: c.created.clone(),
            created_unix: unix_of(&c.created),
            state: c.state.status,
            status: c.status_text(),
            labels: c.config.labels.clone(),
            mounts: h
                .mounts
                .iter()
                .filter(|m| m.kind != MountKind::Tmpfs)
                .map(|m| m.source.clone())
                .collect(),
            local_volumes: h
                .mounts
                .iter()
                .filter(|m| m.kind == MountKind::Volume)
                .count(),
            network: h.network_names().join(","),
            ports: self
                .container_ports(c)
                .into_iter()
                .flat_map(|(k, b)| {
                    let (port, proto) = k.split_once('/').unwrap_or((&k, "tcp"));
                    let (port, proto) = (port.parse().unwrap_or(0), proto.to_string());
                    match b {
                        None => vec![PortSummary {
                            ip: String::new(),
                            private_port: port,
                            public_port: 0,
                            proto,
                        }],
                        Some(l) => l
                            .into_iter()
                            .map(|(ip, hp)| PortSummary {
                                ip,
                                private_port: port,
                                public_port: hp,
                                proto: proto.clone(),
                            })
                            .collect(),
                    }
                })
                .collect(),
            size_rw,
            size_root_fs,
        }
    }

    /// `container prune`: removes the stopped containers that `filters` (until=, label=,
    /// label!=) select; returns their ids and the bytes their writable layers held.
    pub fn prune_containers(&self, filters: &Filters) -> Result<(Vec<String>, u64)> {
        filters.check_keys(&["until", "label", "label!"])?;
        let until = match filters.get("until").last() {
            Some(u) => Some(time_filter(u, "until")?),
            None => None,
        };
        let mut deleted = Vec::new();
        let mut freed = 0u64;
        for c in self.containers()? {
            if c.state.status.is_live()
                || until.as_deref().is_some_and(|u| c.created.as_str() >= u)
                || !filters.labels_match("label", &c.config.labels)
                || filters
                    .get("label!")
                    .iter()
                    .any(|l| crate::filters::label_matches(&c.config.labels, l))
            {
                continue;
            }
            freed += self.rw_size(&c.id);
            self.remove(&c.id, false, false)?;
            deleted.push(c.id);
        }
        crate::events::append(
            &self.paths,
            "container",
            "prune",
            crate::events::actor("", &[("reclaimed", freed.to_string())]),
        );
        Ok((deleted, freed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_like_docker() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            docker_command(&v(&["echo", "hello world"])),
            "echo 'hello world'"
        );
        assert_eq!(
            docker_command(&v(&["sh", "-c", "sleep 1 && echo \"a b\""])),
            "sh -c 'sleep 1 && echo \"a b\"'"
        );
        assert_eq!(docker_command(&v(&["top"])), "top");
        assert_eq!(docker_command(&[]), "");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(7200), "2 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(100 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }
}
