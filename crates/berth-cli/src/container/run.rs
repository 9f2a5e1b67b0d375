//! `run`, `create`, `start` and `attach`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use berth_engine::AttachStreams;
use berth_engine::image::PullDecision;
use berth_engine::{CreateRequest, Engine, StartMode, Started};

use super::relay::{self, Ended, RelayOptions};
use super::{AttachArgs, CreateArgs, Exit, RunArgs, StartArgs, engine};
use crate::cli::Global;

/// Makes sure the image is in the store, per --pull (`_g`: the pull goes through `e`).
fn ensure_image(_g: &Global, e: &Engine, a: &CreateArgs) -> Result<()> {
    let decision = e.pull_decision(a.image(), &a.pull, a.platform.as_deref())?;
    if decision != PullDecision::UseLocal {
        if decision == PullDecision::PullMissing && !a.more.quiet {
            eprintln!("Unable to find image '{}' locally", a.image());
        }
        let args = crate::registry::PullArgs {
            name: a.image().to_string(),
            quiet: a.more.quiet,
            platform: a.platform.clone(),
            all_tags: false,
            trust: crate::registry::ContentTrust::default(),
        };
        crate::registry::pull_to(e, args, &mut std::io::stderr())?;
    }
    Ok(())
}

/// `detached`: `run -d`, whose container has no attached streams.
/// `start_next`: `run`, which starts the container right after.
fn do_create(
    g: &Global,
    e: &Engine,
    a: &CreateArgs,
    detached: bool,
    start_next: bool,
) -> Result<berth_engine::Container> {
    let mut config = a.to_config(&e.settings()?.log)?;
    // A bad configuration is refused before any pull (`create` checks it again).
    berth_engine::config::validate::validate(&config)?;
    if detached {
        if !a.more.attach.is_empty() {
            bail!("conflicting options: cannot specify both --attach and --detach");
        }
        (
            config.attach_stdin,
            config.attach_stdout,
            config.attach_stderr,
        ) = (false, false, false);
    }
    a.more.check_cidfile()?;
    ensure_image(g, e, a)?;
    let (c, warnings) = e.create_with_warnings(CreateRequest {
        name: a.name.clone(),
        config,
        start_next,
    })?;
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    if let Err(err) = a.more.write_cidfile(&c.id) {
        let _ = e.remove(&c.id, true, true);
        return Err(err);
    }
    Ok(c)
}

/// Berth's own failures exit 125 (or 126/127 when the process could not start).
fn fail(e: anyhow::Error) -> anyhow::Error {
    let code = super::exit_code(&e);
    crate::output::print_error(&e);
    anyhow::Error::new(Exit(code))
}

pub fn create(g: &Global, a: CreateArgs) -> Result<ExitCode> {
    // docker's client refuses an existing --cidfile itself: exit 1 for `create` (its `run`
    // wraps the same error in 125).
    if let Err(err) = a.more.check_cidfile() {
        crate::output::print_error(&err);
        return Err(anyhow::Error::new(Exit(1)));
    }
    let e = engine(g).map_err(fail)?;
    // docker's client parses the flags first (errors exit 125), then the daemon creates
    // (its errors, and the pull's, exit 1 for `create`; `run` wraps them in 125).
    a.to_config(&e.settings()?.log).map_err(fail)?;
    let c = do_create(g, &e, &a, false, false).map_err(|err| {
        crate::output::print_error(&err);
        anyhow::Error::new(Exit(1))
    })?;
    println!("{}", c.id);
    Ok(ExitCode::SUCCESS)
}

pub fn run(g: &Global, a: RunArgs) -> Result<ExitCode> {
    let c = &a.create;
    let stdin_tty = nix::sys::termios::tcgetattr(std::io::stdin()).is_ok();
    if c.tty && c.interactive && !stdin_tty && !a.detach {
        // A usage error, not Berth's: docker exits 1 here.
        crate::output::print_error(&anyhow::anyhow!("the input device is not a TTY"));
        return Err(anyhow::Error::new(Exit(1)));
    }
    let e = engine(g).map_err(fail)?;
    let container = do_create(g, &e, c, a.detach, true).map_err(fail)?;
    if a.detach {
        match e.start(&container.id, StartMode::Now) {
            Ok(_) => {
                println!("{}", container.id);
                return Ok(ExitCode::SUCCESS);
            }
            Err(err) => {
                if c.rm {
                    let _ = e.remove(&container.id, true, true);
                }
                return Err(fail(err.into()));
            }
        }
    }
    let hello = AttachStreams {
        stdin: c.interactive,
        stdout: container.config.attach_stdout,
        stderr: container.config.attach_stderr,
        exit_code: true,
    };
    match e.start(&container.id, StartMode::OnAttach) {
        Ok(_) => {}
        Err(err) => {
            if c.rm {
                let _ = e.remove(&container.id, true, true);
            }
            return Err(fail(err.into()));
        }
    }
    let sock = e
        .attach(&container.id, hello)
        .map_err(|err| fail(err.into()))?;
    let ended = relay::relay(
        sock,
        RelayOptions {
            tty: c.tty,
            stdin: c.interactive,
            detach_keys: relay::detach_keys(&a.detach_keys).map_err(fail)?,
            sig_proxy: (a.sig_proxy && !c.tty).then(|| (&e, container.id.clone())),
            start: true,
        },
    )
    .map_err(fail)?;
    finish(&e, &container.id, ended)
}

fn finish(e: &Engine, id: &str, ended: Ended) -> Result<ExitCode> {
    let code = match ended {
        Ended::Exited(c) => c,
        Ended::Detached => {
            let _ = writeln!(std::io::stderr(), "read escape sequence");
            0
        }
        // The stream ended without the exit frame (the monitor died): the code is what the
        // state records once the container is down, and an error if it cannot be read.
        Ended::Closed => e.wait(id, &berth_engine::Cancel::new())?,
    };
    Ok(ExitCode::from(super::exit_status(code)))
}

pub fn start(g: &Global, a: StartArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            bail!("you cannot start and attach multiple containers at once");
        }
        let c = e.container(&a.containers[0])?;
        let hello = AttachStreams {
            stdin: a.interactive && c.config.open_stdin,
            stdout: true,
            stderr: true,
            exit_code: true,
        };
        // A running container is attached to, not started again.
        let start = e.start(&c.id, StartMode::OnAttach)? != Started::AlreadyRunning;
        let sock = e.attach(&c.id, hello)?;
        let ended = relay::relay(
            sock,
            RelayOptions {
                tty: c.config.tty,
                stdin: hello.stdin,
                detach_keys: relay::detach_keys(&a.detach_keys)?,
                sig_proxy: (!c.config.tty).then(|| (&e, c.id.clone())),
                start,
            },
        )?;
        return finish(&e, &c.id, ended);
    }
    let mut failed = false;
    for name in &a.containers {
        match e.start(name, StartMode::Now) {
            Ok(_) => println!("{name}"),
            Err(err) => {
                crate::output::print_error(
                    &anyhow::Error::new(err).context(format!("failed to start container {name}")),
                );
                failed = true;
            }
        }
    }
    if failed {
        return Err(anyhow::Error::new(Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn attach(g: &Global, a: AttachArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let c = e.container(&a.container)?;
    if !c.state.status.is_live() {
        bail!("you cannot attach to a stopped container, start it first");
    }
    let hello = AttachStreams {
        stdin: !a.no_stdin && c.config.open_stdin,
        stdout: true,
        stderr: true,
        exit_code: true,
    };
    let sock = e.attach(&c.id, hello).context("attach")?;
    let ended = relay::relay(
        sock,
        RelayOptions {
            tty: c.config.tty,
            stdin: hello.stdin,
            detach_keys: relay::detach_keys(&a.detach_keys)?,
            sig_proxy: (a.sig_proxy && !c.config.tty).then(|| (&e, c.id.clone())),
            start: false,
        },
    )?;
    finish(&e, &c.id, ended)
}
