//! Times of the image store: Berth's one calendar lives in `berth_runtime::time`.

pub use berth_runtime::time::{format_rfc3339, now_unix, parse_rfc3339};
