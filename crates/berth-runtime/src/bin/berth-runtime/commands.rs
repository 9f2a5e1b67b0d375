//! Command implementations: argument handling and output; the work is in the library.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use berth_runtime::{Container, CreateOptions, ExecOptions, Runtime, Status, supervise};
use oci_spec::runtime::{Capabilities, Process};

use crate::cli::{Cli, Cmd, CreateArgs, ExecArgs};
use crate::log::Logger;

fn create_opts(a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        bundle: a.bundle.clone(),
        console_socket: a.console_socket.clone(),
        keep_console: false,
        pid_file: a.pid_file.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        stdio: None,
        start_now: false,
        // As runc: the engine that drives this CLI sets up the network namespace.
        loopback_up: false,
    }
}

/// Runs the command; returns the process exit code.
pub fn dispatch(cli: &Cli, log: &Logger) -> Result<u8> {
    if cli.version {
        let lib = libseccomp::ScmpVersion::current()
            .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
            .unwrap_or_default();
        println!(
            "berth-runtime version {}\nspec: 1.2.1\nlibseccomp: {lib}",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(0);
    }
    if cli.rootless.as_deref() == Some("true") && !nix::unistd::geteuid().is_root() {
        bail!("--rootless=true: rootless containers are not supported yet; run as root");
    }
    let Some(cmd) = &cli.cmd else {
        bail!("no command given (see --help)");
    };
    log.debug(&format!("command: {cmd:?}"));
    let rt = || Runtime::new(&cli.root).context("open the state directory");
    match cmd {
        Cmd::Create { opts, id } => {
            rt()?.create(id, &create_opts(opts))?;
            Ok(0)
        }
        Cmd::Start { id } => {
            let c = rt()?.load(id)?;
            if let Err(e) = c.start() {
                if matches!(e, berth_runtime::Error::Hook { .. }) {
                    log.warn(&e.to_string());
                } else {
                    return Err(e.into());
                }
            }
            Ok(0)
        }
        Cmd::Run {
            opts,
            detach,
            keep,
            no_subreaper: _,
            id,
        } => run(&rt()?, opts, *detach, *keep, id, log),
        Cmd::State { id } => {
            let c = rt()?.load(id)?;
            let st = c.oci_state(c.status());
            println!("{}", serde_json::to_string_pretty(&st)?);
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            let sig = signal.as_deref().unwrap_or("SIGTERM");
            let sig = berth_runtime::util::parse_signal(sig)
                .with_context(|| format!("invalid signal {sig:?}"))?;
            rt()?.load(id)?.kill(sig, *all)?;
            Ok(0)
        }
        Cmd::Delete { force, id } => {
            let r = rt()?;
            match r.load(id) {
                Ok(c) => c.delete(*force)?,
                // runc succeeds for --force on a missing container.
                Err(berth_runtime::Error::NotFound(_)) if *force => {}
                Err(e) => return Err(e.into()),
            }
            Ok(0)
        }
        Cmd::Exec(a) => exec(&rt()?, a),
        Cmd::List { format, quiet } => list(&rt()?, format, *quiet),
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => ps(&rt()?.load(id)?, format, ps_args),
        Cmd::Pause { id } => {
            rt()?.load(id)?.pause()?;
            Ok(0)
        }
        Cmd::Resume { id } => {
            rt()?.load(id)?.resume()?;
            Ok(0)
        }
        Cmd::Update(a) => {
            let res = crate::update::resources(a)?;
            rt()?.load(&a.id)?.update(&res)?;
            Ok(0)
        }
        Cmd::Features => {
            println!(
                "{}",
                serde_json::to_string_pretty(&berth_runtime::features::features())?
            );
            Ok(0)
        }
        Cmd::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            let mut s = berth_runtime::features::default_spec(*rootless);
            if let Some(p) = s.process_mut() {
                p.set_terminal(Some(true));
            }
            let text = serde_json::to_string_pretty(&s)?;
            std::fs::write(&path, text + "\n")
                .with_context(|| format!("write {}", path.display()))?;
            Ok(0)
        }
        Cmd::Events {
            stats,
            interval,
            id,
        } => events(&rt()?.load(id)?, *stats, interval),
    }
}

fn run(
    rt: &Runtime,
    a: &CreateArgs,
    detach: bool,
    keep: bool,
    id: &str,
    log: &Logger,
) -> Result<u8> {
    let mut o = create_opts(a);
    // With a terminal and no console socket, `run` relays the pty itself (a detached run
    // cannot, and create says so).
    o.keep_console = a.console_socket.is_none() && !detach;
    o.start_now = true;
    let old_mask = if detach {
        None
    } else {
        Some(supervise::block_signals()?)
    };
    let created = rt.create(id, &o)?;
    let c = created.container;
    if let Err(e) = c.poststart() {
        if matches!(e, berth_runtime::Error::Hook { .. }) {
            log.warn(&e.to_string());
        } else {
            let _ = rt.load(id).map(|c| c.delete(true));
            return Err(e.into());
        }
    }
    if detach {
        return Ok(0);
    }
    berth_runtime::util::trace("run: started");
    let code = supervise::supervise(c.pid(), created.console)?;
    berth_runtime::util::trace("run: exited");
    if let Some(m) = old_mask {
        let _ = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&m),
            None,
        );
    }
    if c.saved.cgroup.oom_kills() > 0 {
        log.warn(&format!(
            "container {id} was killed by the OOM killer (memory limit)"
        ));
    }
    if !keep && let Err(e) = c.delete_exited() {
        log.warn(&format!("delete container {id}: {e}"));
    }

    berth_runtime::util::trace("run: deleted");
    Ok(exit_status(code))
}

/// A process's exit code as this program's exit status: codes outside 0-255 clamp.
fn exit_status(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(if code < 0 { 0 } else { u8::MAX })
}

fn exec_process(c: &Container, a: &ExecArgs) -> Result<Process> {
    if let Some(p) = &a.process {
        let bytes = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
        return Ok(berth_runtime::spec::parse_process(&bytes)?);
    }
    if a.command.is_empty() {
        bail!("exec needs a command or --process");
    }
    let mut p = c.saved.spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(PathBuf::from(cwd));
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let uid: u32 = uid
            .parse()
            .with_context(|| format!("--user {u:?}: uid must be a number"))?;
        let gid: u32 = gid
            .parse()
            .with_context(|| format!("--user {u:?}: gid must be a number"))?;
        p.user_mut().set_uid(uid);
        p.user_mut().set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(l) = &a.apparmor {
        p.set_apparmor_profile(Some(l.clone()));
    }
    if let Some(l) = &a.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    if !a.cap.is_empty() {
        let extra: Capabilities = serde_json::from_value(serde_json::json!(a.cap))
            .with_context(|| format!("--cap {:?}: unknown capability", a.cap))?;
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let add = |s: Option<Capabilities>| -> Option<Capabilities> {
            let mut s = s.unwrap_or_default();
            s.extend(extra.iter().cloned());
            Some(s)
        };
        caps.set_bounding(add(caps.bounding().clone()));
        caps.set_effective(add(caps.effective().clone()));
        caps.set_permitted(add(caps.permitted().clone()));
        caps.set_ambient(add(caps.ambient().clone()));
        caps.set_inheritable(add(caps.inheritable().clone()));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

fn exec(rt: &Runtime, a: &ExecArgs) -> Result<u8> {
    let c = rt.load(&a.id)?;
    if c.status() == Status::Paused {
        bail!("cannot exec in paused container {}", a.id);
    }
    let process = exec_process(&c, a)?;
    let terminal = process.terminal() == Some(true);
    if terminal && a.detach && a.console_socket.is_none() {
        bail!("--console-socket: required for a terminal with --detach");
    }
    let old_mask = if a.detach {
        None
    } else {
        Some(supervise::block_signals()?)
    };
    let e = c.exec(&ExecOptions {
        process,
        console_socket: a.console_socket.clone(),
        keep_console: terminal && a.console_socket.is_none(),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        stdio: None,
    })?;
    if a.detach {
        return Ok(0);
    }
    let code = supervise::supervise(e.pid, e.console)?;
    if let Some(m) = old_mask {
        let _ = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&m),
            None,
        );
    }
    Ok(exit_status(code))
}

fn list(rt: &Runtime, format: &str, quiet: bool) -> Result<u8> {
    let cs = rt.list()?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for c in &cs {
            writeln!(out, "{}", c.id())?;
        }
        return Ok(0);
    }
    let rows: Vec<serde_json::Value> = cs.iter().map(|c| c.oci_state(c.status())).collect();
    if format == "json" {
        writeln!(out, "{}", serde_json::to_string(&rows)?)?;
        return Ok(0);
    }
    let cols = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let keys = ["id", "pid", "status", "bundle", "created", "owner"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            keys.iter()
                .map(|k| match &r[k] {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect()
        })
        .collect();
    // Like Go's tabwriter(minwidth 12, padding 3).
    let widths: Vec<usize> = (0..cols.len())
        .map(|i| {
            let w = cells
                .iter()
                .map(|r| r[i].len())
                .chain([cols[i].len()])
                .max()
                .unwrap_or(0);
            (w + 3).max(12)
        })
        .collect();
    let line = |vals: &[&str]| {
        let mut s = String::new();
        for (i, v) in vals.iter().enumerate() {
            if i + 1 == vals.len() {
                s.push_str(v);
            } else {
                s.push_str(&format!("{v:<w$}", w = widths[i]));
            }
        }
        s
    };
    writeln!(out, "{}", line(&cols))?;
    for r in &cells {
        let v: Vec<&str> = r.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&v))?;
    }
    Ok(0)
}

fn ps(c: &Container, format: &str, ps_args: &[String]) -> Result<u8> {
    if format == "json" {
        println!("{}", serde_json::to_string(&c.pids()?)?);
        return Ok(0);
    }
    let (header, rows) = c.ps(ps_args)?;
    println!("{header}");
    for l in rows {
        println!("{l}");
    }
    Ok(0)
}

fn parse_duration(s: &str) -> Result<Duration> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let v: f64 = num
        .parse()
        .with_context(|| format!("invalid interval {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => bail!("invalid interval {s:?}: use ms, s or m"),
    };
    if secs <= 0.0 {
        bail!("invalid interval {s:?}");
    }
    Ok(Duration::from_secs_f64(secs))
}

fn events(c: &Container, once: bool, interval: &str) -> Result<u8> {
    let every = parse_duration(interval)?;
    let mut ooms = c.saved.cgroup.oom_kills();
    loop {
        if c.status() == Status::Stopped {
            if once {
                bail!("container {} is not running", c.id());
            }
            return Ok(0);
        }
        let stats = c.stats()?;
        let ev = serde_json::json!({"type": "stats", "id": c.id(), "data": stats});
        println!("{ev}");
        if once {
            return Ok(0);
        }
        let now = c.saved.cgroup.oom_kills();
        if now > ooms {
            println!("{}", serde_json::json!({"type": "oom", "id": c.id()}));
            ooms = now;
        }
        std::thread::sleep(every);
    }
}
