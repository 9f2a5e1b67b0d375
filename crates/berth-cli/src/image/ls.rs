//! `berth images` / `berth image ls`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use berth_image::{ImageRecord, Reference, Store};
use serde_json::{Value, json};

use super::LsArgs;
use crate::output::{Format, ago, human_size, print_rows};

struct Filters {
    dangling: Option<bool>,
    references: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    before: Option<i64>,
    since: Option<i64>,
}

fn parse_filters(store: &Store, raw: &[String]) -> anyhow::Result<Filters> {
    let mut f = Filters {
        dangling: None,
        references: Vec::new(),
        labels: Vec::new(),
        before: None,
        since: None,
    };
    for r in raw {
        let Some((k, v)) = r.split_once('=') else {
            bail!("bad format of filter (expected name=value)");
        };
        match k {
            "dangling" => {
                f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => bail!("invalid filter 'dangling={v}'"),
                })
            }
            "reference" => f.references.push(v.to_owned()),
            "label" => f.labels.push(match v.split_once('=') {
                Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
                None => (v.to_owned(), None),
            }),
            "before" => f.before = Some(store.resolve(v)?.created),
            "since" => f.since = Some(store.resolve(v)?.created),
            _ => bail!("invalid filter '{k}'"),
        }
    }
    Ok(f)
}

/// Go's path.Match for the subset docker patterns use (`*`, `?`, literal).
fn glob(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pat[1..], s) || (!s.is_empty() && s[0] != b'/' && glob(pat, &s[1..]))
        }
        (Some(b'?'), Some(&c)) if c != b'/' => glob(&pat[1..], &s[1..]),
        (Some(&p), Some(&c)) if p == c => glob(&pat[1..], &s[1..]),
        _ => false,
    }
}

fn labels_match(store: &Store, img: &ImageRecord, want: &[(String, Option<String>)]) -> bool {
    if want.is_empty() {
        return true;
    }
    let Ok(cfg) = store.config_json(img) else {
        return false;
    };
    let labels = &cfg["config"]["Labels"];
    want.iter().all(|(k, v)| match (labels.get(k), v) {
        (Some(_), None) => true,
        (Some(Value::String(have)), Some(v)) => have == v,
        _ => false,
    })
}

pub fn run(store: &Store, a: LsArgs) -> anyhow::Result<ExitCode> {
    let mut filters = parse_filters(store, &a.filter)?;
    if let Some(r) = &a.repository {
        filters.references.push(r.clone());
    }
    let mut images = store.images()?;
    images.sort_by(|x, y| y.created.cmp(&x.created).then(x.id.cmp(&y.id)));
    let mut rows: Vec<Value> = Vec::new();
    for img in &images {
        let dangling = img.tags.is_empty();
        if filters.dangling.is_some_and(|d| d != dangling) {
            continue;
        }
        if filters.before.is_some_and(|b| img.created >= b)
            || filters.since.is_some_and(|s| img.created <= s)
        {
            continue;
        }
        if !labels_match(store, img, &filters.labels) {
            continue;
        }
        let id = if a.no_trunc {
            img.id.to_string()
        } else {
            img.id.short().to_owned()
        };
        let names: Vec<(String, String)> = if dangling {
            vec![("<none>".into(), "<none>".into())]
        } else {
            img.tags
                .iter()
                .filter_map(|t| Reference::parse(t).ok())
                .map(|r| (r.familiar_name(), r.tag().unwrap_or("<none>").to_owned()))
                .collect()
        };
        for (repo, tag) in names {
            if !filters.references.is_empty() {
                if dangling {
                    continue;
                }
                let full = format!("{repo}:{tag}");
                if !filters.references.iter().any(|p| {
                    glob(p.as_bytes(), repo.as_bytes()) || glob(p.as_bytes(), full.as_bytes())
                }) {
                    continue;
                }
            }
            let digest = img
                .repo_digests
                .iter()
                .filter_map(|r| Reference::parse(r).ok())
                .find(|r| r.familiar_name() == repo)
                .and_then(|r| r.digest().map(|d| d.to_string()))
                .unwrap_or_else(|| "<none>".into());
            rows.push(json!({
                "Containers": "N/A",
                "CreatedAt": crate::output::go_time(img.created),
                "CreatedSince": ago(img.created),
                "Digest": digest,
                "ID": id,
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size(img.size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(img.size),
            }));
        }
    }
    if a.quiet {
        let mut out = String::new();
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or_default();
            if seen.insert(id.to_owned()) {
                out.push_str(id);
                out.push('\n');
            }
        }
        std::io::stdout().write_all(out.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut cols = vec![("REPOSITORY", "Repository"), ("TAG", "Tag")];
    if a.digests {
        cols.push(("DIGEST", "Digest"));
    }
    cols.extend([
        ("IMAGE ID", "ID"),
        ("CREATED", "CreatedSince"),
        ("SIZE", "Size"),
    ]);
    print_rows(&Format::parse(a.format.as_deref()), &cols, &rows)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob(b"busy*", b"busybox"));
        assert!(glob(b"busybox:*", b"busybox:latest"));
        assert!(glob(b"b?sybox", b"busybox"));
        assert!(!glob(b"*", b"a/b"));
        assert!(glob(b"*/*", b"a/b"));
        assert!(!glob(b"alpine", b"busybox"));
    }
}
