//! Per-layer progress: indicatif bars on a terminal, plain lines otherwise.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use berth_engine::image::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::human_size;

pub enum LayerProgress {
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
    Lines {
        sizes: Mutex<HashMap<String, u64>>,
    },
    Quiet,
}

impl LayerProgress {
    /// Bars when stdout is a terminal, plain lines on stderr otherwise; nothing when quiet.
    pub fn new(quiet: bool) -> LayerProgress {
        if quiet {
            LayerProgress::Quiet
        } else if std::io::stdout().is_terminal() {
            LayerProgress::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            LayerProgress::Lines {
                sizes: Mutex::new(HashMap::new()),
            }
        }
    }
}

fn short(id: &str) -> &str {
    let s = id.strip_prefix("sha256:").unwrap_or(id);
    s.get(..12).unwrap_or(s)
}

impl Progress for LayerProgress {
    fn begin(&self, id: &str, size: u64) {
        match self {
            LayerProgress::Bars { multi, bars } => {
                let pb = multi.add(ProgressBar::new(size));
                let style = ProgressStyle::with_template(
                    "{prefix}: {msg} [{bar:40}] {bytes}/{total_bytes}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                pb.set_style(style);
                pb.set_prefix(short(id).to_owned());
                pb.set_message("Loading layer");
                if let Ok(mut b) = bars.lock() {
                    b.insert(id.to_owned(), pb);
                }
            }
            LayerProgress::Lines { sizes } => {
                if let Ok(mut s) = sizes.lock() {
                    s.insert(id.to_owned(), size);
                }
            }
            LayerProgress::Quiet => {}
        }
    }

    fn advance(&self, id: &str, done: u64) {
        if let LayerProgress::Bars { bars, .. } = self
            && let Ok(b) = bars.lock()
            && let Some(pb) = b.get(id)
        {
            pb.set_position(done);
        }
    }

    fn end(&self, id: &str, status: &str) {
        match self {
            LayerProgress::Bars { bars, .. } => {
                if let Ok(b) = bars.lock()
                    && let Some(pb) = b.get(id)
                {
                    pb.finish_with_message(status.to_owned());
                }
            }
            LayerProgress::Lines { sizes } => {
                let size = sizes
                    .lock()
                    .ok()
                    .and_then(|s| s.get(id).copied())
                    .unwrap_or(0);
                let _ = writeln!(
                    std::io::stderr(),
                    "{}: {status} layer {}",
                    short(id),
                    human_size(size)
                );
            }
            LayerProgress::Quiet => {}
        }
    }
}
