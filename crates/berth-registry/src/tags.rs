//! Listing a repository's tags (`GET /v2/<name>/tags/list`, following `Link` pages), for
//! `pull --all-tags`.

use berth_image::Reference;
use berth_image::model::MAX_JSON;
use serde::Deserialize;

use crate::client::{Client, Payload, Session};
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct TagList {
    tags: Option<Vec<String>>,
}

/// The next page of a `Link: <url>; rel="next"` header.
fn next_link(h: &str) -> Option<String> {
    h.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

fn list(s: &Session<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut url = s.url("tags/list");
    // A registry that keeps sending pages is cut off rather than followed forever.
    for _ in 0..1000 {
        let mut resp = s.send("GET", &url, &[], Payload::Empty)?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Err(Error::ManifestUnknown(format!("{}/{}", s.registry, s.repo))),
            _ => return Err(s.status_error("tags list", resp)),
        }
        let next = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_JSON)
            .read_to_vec()
            .map_err(|e| s.unavailable(e.to_string()))?;
        let page: TagList = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
            registry: s.registry.clone(),
            reason: format!("tags list of {}: {e}", s.repo),
        })?;
        out.extend(page.tags.unwrap_or_default());
        match next {
            Some(n) => url = s.absolute(&n),
            None => return Ok(out),
        }
    }
    Err(Error::Protocol {
        registry: s.registry.clone(),
        reason: format!("tags list of {}: too many pages", s.repo),
    })
}

impl Client {
    /// The tags of `r`'s repository, from the first endpoint (mirror or registry) that
    /// answers.
    pub fn tags(&self, r: &Reference) -> Result<Vec<String>> {
        let mut last = None;
        for ep in self.config().endpoints(r.domain()) {
            let res = Session::new(self, r.domain(), r.path(), &ep, "pull").and_then(|s| list(&s));
            match res {
                Ok(t) => return Ok(t),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::ManifestUnknown(r.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_pages() {
        assert_eq!(
            next_link(r#"</v2/x/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"<http://a/b>; rel="prev""#), None);
    }
}
