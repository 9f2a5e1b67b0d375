//! `images` (Docker's list filters, parsed and applied here) and the per-image rows of
//! `system df -v`.

use berth_image::{Digest, ImageRecord, Reference, Store};
use serde_json::Value;

use crate::engine::Engine;
use crate::error::{Error, Result};

/// One row of `images`: an image under one of its tags (a dangling image has one row
/// without repository and tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// The image ID (config digest).
    pub id: Digest,
    /// Familiar repository name (`busybox`, `localhost:5000/bb`); None when dangling.
    pub repository: Option<String>,
    /// None when dangling.
    pub tag: Option<String>,
    /// The manifest digest this repository was pulled or pushed with, if any.
    pub digest: Option<Digest>,
    /// Creation time, seconds since the epoch (0 when unknown).
    pub created: i64,
    /// Sum of the uncompressed layer sizes.
    pub size: u64,
}

/// One image in `system df -v`: its first tag, size and how many containers use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    pub id: Digest,
    /// Familiar repository of the first tag; None when dangling.
    pub repository: Option<String>,
    pub tag: Option<String>,
    /// Creation time, seconds since the epoch (0 when unknown).
    pub created: i64,
    pub size: u64,
    /// Bytes of its layers that other images use too; the rest is its own.
    pub shared_size: u64,
    pub unique_size: u64,
    /// Containers (snapshots) using the image.
    pub containers: usize,
}

/// Docker's image filters, parsed.
#[derive(Debug, Default)]
struct Filters {
    dangling: Option<bool>,
    /// `reference=` patterns (Go `path.Match` globs against `repo` and `repo:tag`).
    references: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    /// Only images created before (after) this image's creation time.
    before: Option<i64>,
    since: Option<i64>,
}

fn parse_filters(store: &Store, raw: &[String]) -> Result<Filters> {
    let mut f = Filters::default();
    for r in raw {
        let Some((k, v)) = r.split_once('=') else {
            return Err(Error::InvalidValue(
                "bad format of filter (expected name=value)".into(),
            ));
        };
        match k {
            "dangling" => {
                f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(Error::InvalidValue(format!(
                            "invalid filter 'dangling={v}'"
                        )));
                    }
                })
            }
            "reference" => f.references.push(v.to_owned()),
            "label" => f.labels.push(match v.split_once('=') {
                Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
                None => (v.to_owned(), None),
            }),
            "before" => f.before = Some(store.resolve(v)?.created),
            "since" => f.since = Some(store.resolve(v)?.created),
            _ => return Err(Error::InvalidValue(format!("invalid filter '{k}'"))),
        }
    }
    Ok(f)
}

/// Go's `path.Match` for the subset docker patterns use (`*`, `?`, literal): `*` and `?`
/// never match a `/`.
pub(crate) fn glob(pat: &[u8], s: &[u8]) -> bool {
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

/// The (repository, tag) names of an image in familiar form; None for a dangling image.
fn names(img: &ImageRecord) -> Option<Vec<(String, String)>> {
    if img.tags.is_empty() {
        return None;
    }
    Some(
        img.tags
            .iter()
            .filter_map(|t| Reference::parse(t).ok())
            .map(|r| (r.familiar_name(), r.tag().unwrap_or("<none>").to_owned()))
            .collect(),
    )
}

impl Engine {
    /// The images, newest first, one row per tag, filtered as `docker images` does:
    /// `filters` are Docker's `name=value` filters (`dangling=`, `reference=` with Go
    /// `path.Match` globs, `label=KEY[=VALUE]`, `before=IMAGE`, `since=IMAGE`), and
    /// `repository` (`docker images REPO[:TAG]`) is one more reference pattern.
    pub fn images(&self, filters: &[String], repository: Option<&str>) -> Result<Vec<ImageRow>> {
        let store = self.store()?;
        let mut f = parse_filters(store, filters)?;
        f.references.extend(repository.map(str::to_owned));
        let mut images = store.images()?;
        images.sort_by(|x, y| y.created.cmp(&x.created).then(x.id.cmp(&y.id)));
        let mut rows = Vec::new();
        for img in &images {
            let names = names(img);
            if f.dangling.is_some_and(|d| d != names.is_none())
                || f.before.is_some_and(|b| img.created >= b)
                || f.since.is_some_and(|s| img.created <= s)
                || !labels_match(store, img, &f.labels)
            {
                continue;
            }
            let row = |repository: Option<String>, tag, digest| ImageRow {
                id: img.id.clone(),
                repository,
                tag,
                digest,
                created: img.created,
                size: img.size,
            };
            let Some(names) = names else {
                // A dangling image matches no reference pattern.
                if f.references.is_empty() {
                    rows.push(row(None, None, None));
                }
                continue;
            };
            for (repo, tag) in names {
                let full = format!("{repo}:{tag}");
                if !f.references.is_empty()
                    && !f.references.iter().any(|p| {
                        glob(p.as_bytes(), repo.as_bytes()) || glob(p.as_bytes(), full.as_bytes())
                    })
                {
                    continue;
                }
                let digest = img
                    .repo_digests
                    .iter()
                    .filter_map(|r| Reference::parse(r).ok())
                    .find(|r| r.familiar_name() == repo)
                    .and_then(|r| r.digest().cloned());
                rows.push(row(Some(repo), Some(tag), digest));
            }
        }
        Ok(rows)
    }

    /// Every image with its first tag and the number of containers using it, in the
    /// store's order (`system df -v`).
    pub fn images_usage(&self) -> Result<Vec<ImageUsage>> {
        let store = self.store()?;
        let images = store.images()?;
        let sizes = store.layer_sizes()?;
        // How many images use each layer.
        let mut users = std::collections::HashMap::<&Digest, usize>::new();
        for img in &images {
            let distinct: std::collections::HashSet<&Digest> =
                img.layers.iter().map(|l| &l.diff_id).collect();
            for d in distinct {
                *users.entry(d).or_default() += 1;
            }
        }
        let mut out = Vec::new();
        for img in &images {
            let distinct: std::collections::HashSet<&Digest> =
                img.layers.iter().map(|l| &l.diff_id).collect();
            let shared_size: u64 = distinct
                .into_iter()
                .filter(|d| users.get(d).is_some_and(|n| *n > 1))
                .map(|d| sizes.get(d).copied().unwrap_or(0))
                .sum();
            let containers = store.users(&img.id)?.len();
            let (repository, tag) = img
                .familiar_tags()
                .first()
                .and_then(|t| t.rsplit_once(':'))
                .map(|(r, t)| (Some(r.to_owned()), Some(t.to_owned())))
                .unwrap_or((None, None));
            out.push(ImageUsage {
                id: img.id.clone(),
                repository,
                tag,
                created: img.created,
                size: img.size,
                shared_size,
                unique_size: img.size.saturating_sub(shared_size),
                containers,
            });
        }
        Ok(out)
    }
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
