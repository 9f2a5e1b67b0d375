//! Docker-shaped views of an image: its config document and `history` rows (the engine
//! builds `image inspect` from the config).

use serde::Serialize;
use serde_json::Value;

use crate::db::{self, ImageRecord};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::time::parse_rfc3339;

/// One row of `history`, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    /// The image ID for the top row and, below, its parents' (as long as they are in the
    /// store), None (`<missing>`) for the rest, as docker shows.
    pub id: Option<String>,
    pub created: i64,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    pub empty_layer: bool,
}

impl Store {
    /// The image config as JSON.
    pub fn config_json(&self, img: &ImageRecord) -> Result<Value> {
        serde_json::from_slice(&self.config_bytes(img)?).map_err(|e| Error::Json {
            what: format!("config of image {}", img.id),
            source: e,
        })
    }

    /// The image's history, newest first, with layer sizes.
    pub fn history(&self, img: &ImageRecord) -> Result<Vec<HistoryRow>> {
        let cfg = self.config_json(img)?;
        let hist = cfg
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut layers = img.layers.iter();
        let mut rows = Vec::new();
        let conn_sizes: Vec<u64> = {
            let mut v = Vec::new();
            for l in &img.layers {
                v.push(
                    db::layer_row(self.db().conn(), &l.diff_id)?.map_or(l.blob_size, |r| r.size),
                );
            }
            v
        };
        let mut idx = 0usize;
        for h in &hist {
            let empty = h
                .get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let size = if empty {
                0
            } else {
                layers.next();
                let s = conn_sizes.get(idx).copied().unwrap_or(0);
                idx += 1;
                s
            };
            let s = |k: &str| h.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            rows.push(HistoryRow {
                id: None,
                created: parse_rfc3339(&s("created")).unwrap_or(0),
                created_by: s("created_by"),
                size,
                comment: s("comment"),
                empty_layer: empty,
            });
        }
        // Layers without history entries.
        for _ in layers {
            rows.push(HistoryRow {
                id: None,
                created: img.created,
                created_by: String::new(),
                size: conn_sizes.get(idx).copied().unwrap_or(0),
                comment: String::new(),
                empty_layer: false,
            });
            idx += 1;
        }
        rows.reverse();
        // As Docker's: the rows from the top get the ids of the image and its parents
        // (commit records them) while those are in the store, the rest `<missing>`.
        let mut id = Some(img.id.clone());
        for row in &mut rows {
            let Some(this) = id.take() else { break };
            row.id = Some(this.to_string());
            id = self
                .image(&this)
                .ok()
                .and_then(|i| i.parent)
                .filter(|p| self.image(p).is_ok());
        }
        Ok(rows)
    }
}
