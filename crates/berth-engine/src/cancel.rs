//! Cancelling long calls. `wait`, `logs` with follow, `events`, the stats stream and an
//! exec's wait block for as long as what they watch lasts; a server ends them when its
//! client goes away, by calling `cancel` on the token it passed (from any thread). The call
//! then returns `Error::Cancelled` within a few milliseconds.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A cancellation token; clones share it.
#[derive(Clone, Default)]
pub struct Cancel(Arc<(Mutex<bool>, Condvar)>);

/// How often a call blocked in the kernel (poll on a process) looks at its token.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

impl Cancel {
    /// A token not cancelled yet.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    fn flag(&self) -> std::sync::MutexGuard<'_, bool> {
        self.0.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cancels every call that watches this token.
    pub fn cancel(&self) {
        *self.flag() = true;
        self.0.1.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        *self.flag()
    }

    /// `Err(Cancelled)` once cancelled; `what` names the call.
    pub(crate) fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            return Err(Error::Cancelled(what.to_string()));
        }
        Ok(())
    }

    /// Sleeps for `d`, or less if cancelled meanwhile; `Err(Cancelled)` if cancelled.
    pub(crate) fn sleep(&self, d: Duration, what: &str) -> Result<()> {
        let deadline = Instant::now() + d;
        let mut f = self.flag();
        while !*f {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            f = self
                .0
                .1
                .wait_timeout(f, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Err(Error::Cancelled(what.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_wakes_a_sleeper() {
        let c = Cancel::new();
        let c2 = c.clone();
        let t = Instant::now();
        let h = std::thread::spawn(move || c2.sleep(Duration::from_secs(30), "test"));
        std::thread::sleep(Duration::from_millis(20));
        c.cancel();
        let r = h.join().unwrap();
        assert!(matches!(r, Err(Error::Cancelled(_))));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(Cancel::new().sleep(Duration::from_millis(1), "x").is_ok());
    }
}
