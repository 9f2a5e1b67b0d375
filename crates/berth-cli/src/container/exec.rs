//! `exec`: a process in a running container, through the runtime library (this process is
//! single-threaded here, which the library requires for forking).

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use berth_engine::Status;
use berth_runtime::{ExecOptions, Runtime, supervise};
use clap::Args;

use super::{Exit, engine};
use crate::cli::Global;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]").
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    pub privileged: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

fn fail(code: u8, msg: String) -> anyhow::Error {
    eprintln!("{msg}");
    anyhow::Error::new(Exit(code))
}

pub fn exec(g: &Global, a: ExecArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let c = e.container(&a.container)?;
    match c.state.status {
        Status::Running => {}
        Status::Paused => bail!(
            "container {} is paused, unpause the container before exec",
            c.id
        ),
        _ => bail!("container {} is not running", c.id),
    }
    if a.tty && a.interactive && nix::sys::termios::tcgetattr(std::io::stdin()).is_err() {
        bail!("the input device is not a TTY");
    }
    let bundle = e.paths.bundle(&c.id).join("config.json");
    let spec = berth_runtime::spec::parse_spec(
        &std::fs::read(&bundle).with_context(|| format!("read {}", bundle.display()))?,
    )?;
    let mut p = spec
        .process()
        .clone()
        .context("the container has no process")?;
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    // The terminal gets our window size before the process runs (not after, when a quick
    // `stty size` would already have read 0 0).
    let size = a
        .tty
        .then(|| berth_runtime::get_size(std::os::fd::AsFd::as_fd(&std::io::stdin())))
        .flatten()
        .filter(|(r, c)| *r > 0 && *c > 0);
    p.set_console_size(size.and_then(|(rows, cols)| {
        oci_spec::runtime::BoxBuilder::default()
            .height(u64::from(rows))
            .width(u64::from(cols))
            .build()
            .ok()
    }));
    let mut env = p.env().clone().unwrap_or_default();
    let mut extra = Vec::new();
    for f in &a.env_file {
        extra.extend(super::envfile::env_file(f)?);
    }
    for v in &a.env {
        if let Some(v) = super::envfile::env_entry(v)? {
            extra.push(v);
        }
    }
    for v in extra {
        let key = v.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(v);
    }
    p.set_env(Some(env));
    if let Some(w) = &a.workdir {
        if !w.starts_with('/') {
            bail!("the working directory '{w}' is invalid, it needs to be an absolute path");
        }
        p.set_cwd(PathBuf::from(w));
    }
    if let Some(u) = &a.user {
        let (uid, gid, groups) = berth_engine::spec::resolve_user(u, &e.paths.rootfs(&c.id), &[])?;
        p.user_mut().set_uid(uid);
        p.user_mut().set_gid(gid);
        p.user_mut().set_additional_gids(Some(groups));
    }
    if a.privileged {
        let all: oci_spec::runtime::Capabilities = berth_runtime::features::all_capabilities();
        let mut caps = p.capabilities().clone().unwrap_or_default();
        caps.set_bounding(Some(all.clone()));
        caps.set_effective(Some(all.clone()));
        caps.set_permitted(Some(all.clone()));
        p.set_capabilities(Some(caps));
    }
    let devnull = std::fs::File::open("/dev/null")?;
    let stdio = if a.detach {
        Some([
            devnull.as_raw_fd(),
            devnull.as_raw_fd(),
            devnull.as_raw_fd(),
        ])
    } else if !a.interactive && !a.tty {
        Some([devnull.as_raw_fd(), 1, 2])
    } else {
        None
    };
    let old = if a.detach {
        None
    } else {
        Some(supervise::block_signals()?)
    };
    let rt = Runtime::new(e.paths.runtime_root())?;
    let rc = rt.load(&c.id)?;
    let ex = match rc.exec(&ExecOptions {
        process: p,
        console_socket: None,
        keep_console: a.tty && !a.detach,
        pid_file: None,
        preserve_fds: 0,
        stdio,
    }) {
        Ok(x) => x,
        Err(err) => {
            let msg = err.to_string();
            let code = berth_engine::monitor::start_failure_code(&msg);
            let code = if code == 125 { 126 } else { code };
            return Err(fail(
                code as u8,
                format!("OCI runtime exec failed: exec failed: {msg}: unknown"),
            ));
        }
    };
    if a.detach {
        return Ok(ExitCode::SUCCESS);
    }
    let code = supervise::supervise(ex.pid, ex.console)?;
    if let Some(m) = old {
        let _ = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&m),
            None,
        );
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}
