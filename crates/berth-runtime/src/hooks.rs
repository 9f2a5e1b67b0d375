//! Lifecycle hooks: each runs with the container state as JSON on stdin, its own env and
//! an optional timeout.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};

use crate::error::{Error, Result};

/// The hook points of the runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    /// Every hook point, in the order of a container's life.
    pub const ALL: [Kind; 6] = [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ];

    /// The spec's name of the hook point.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in `hooks`.
    pub fn select(self, hooks: Option<&Hooks>) -> &[Hook] {
        let Some(h) = hooks else { return &[] };
        let v = match self {
            Kind::Prestart => h.prestart(),
            Kind::CreateRuntime => h.create_runtime(),
            Kind::CreateContainer => h.create_container(),
            Kind::StartContainer => h.start_container(),
            Kind::Poststart => h.poststart(),
            Kind::Poststop => h.poststop(),
        };
        v.as_deref().unwrap_or(&[])
    }
}

/// How long a hook may run (None: no limit). A negative timeout is refused; 0 means no
/// limit, as it always has here (the spec asks for a timeout greater than zero).
pub fn timeout(h: &Hook) -> std::result::Result<Option<Duration>, String> {
    match h.timeout() {
        None => Ok(None),
        Some(t) => u64::try_from(t)
            .map(|secs| (secs > 0).then(|| Duration::from_secs(secs)))
            .map_err(|_| format!("{t} must not be negative")),
    }
}

/// Checks every hook's settings before anything runs.
pub fn validate(hooks: Option<&Hooks>) -> Result<()> {
    for kind in Kind::ALL {
        for (i, h) in kind.select(hooks).iter().enumerate() {
            timeout(h)
                .map_err(|m| Error::spec(format!("hooks.{}[{i}].timeout", kind.name()), m))?;
        }
    }
    Ok(())
}

/// Runs every hook of `kind` in order; the first failure stops and is returned.
pub fn run(kind: Kind, hooks: Option<&Hooks>, state_json: &[u8]) -> Result<()> {
    for h in kind.select(hooks) {
        run_one(kind, h, state_json)?;
    }
    Ok(())
}

fn run_one(kind: Kind, h: &Hook, state: &[u8]) -> Result<()> {
    let err = |msg: String| Error::Hook {
        kind: kind.name(),
        path: h.path().clone(),
        msg,
    };
    let args = h.args().as_deref().unwrap_or(&[]);
    let mut cmd = Command::new(h.path());
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for e in h.env().as_deref().unwrap_or(&[]) {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| err(format!("start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state);
    }
    let timeout = timeout(h).map_err(|m| err(format!("timeout: {m}")))?;
    let start = Instant::now();
    let mut sleep = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(err(format!("wait: {e}"))),
        }
        if let Some(t) = timeout
            && start.elapsed() >= t
        {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err(format!("timed out after {}s", t.as_secs())));
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(20));
    };
    if !status.success() {
        let mut msg = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut msg);
        }
        let code = match (status.code(), status.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => "failed".into(),
        };
        let msg = msg.trim();
        return Err(err(if msg.is_empty() {
            code
        } else {
            format!("{code}: {msg}")
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{HookBuilder, HooksBuilder};

    fn hook(args: &[&str], timeout: Option<i64>) -> Hook {
        let mut b = HookBuilder::default()
            .path("/bin/sh")
            .args(args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().unwrap()
    }

    #[test]
    fn state_on_stdin_and_failures() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(&["sh", "-c", &format!("cat > {}", out.display())], None);
        let hooks = HooksBuilder::default().poststart(vec![h]).build().unwrap();
        run(Kind::Poststart, Some(&hooks), b"{\"id\":\"x\"}").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"{\"id\":\"x\"}");

        let bad = hook(&["sh", "-c", "echo nope >&2; exit 3"], None);
        let hooks = HooksBuilder::default().prestart(vec![bad]).build().unwrap();
        let e = run(Kind::Prestart, Some(&hooks), b"{}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("prestart hook /bin/sh") && e.contains("exit status 3: nope"),
            "{e}"
        );

        let slow = hook(&["sh", "-c", "sleep 5"], Some(1));
        let hooks = HooksBuilder::default()
            .poststop(vec![slow])
            .build()
            .unwrap();
        let e = run(Kind::Poststop, Some(&hooks), b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timed out"), "{e}");
    }

    #[test]
    fn negative_timeouts_are_refused() {
        assert_eq!(
            timeout(&hook(&[], Some(3))),
            Ok(Some(Duration::from_secs(3)))
        );
        assert_eq!(timeout(&hook(&[], Some(0))), Ok(None));
        assert_eq!(timeout(&hook(&[], None)), Ok(None));
        let hooks = HooksBuilder::default()
            .poststop(vec![hook(&["sh", "-c", "true"], Some(-1))])
            .build()
            .unwrap();
        let e = validate(Some(&hooks)).unwrap_err().to_string();
        assert_eq!(
            e,
            "config.json: hooks.poststop[0].timeout: -1 must not be negative"
        );
        let e = run(Kind::Poststop, Some(&hooks), b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeout: -1 must not be negative"), "{e}");
    }
}
