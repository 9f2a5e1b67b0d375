//! `pull`, `push`, `login`, `logout`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_engine::Engine;
use berth_engine::image::Reference;
use clap::Args;

use crate::cli::Global;
use crate::container::engine;
use crate::progress::LayerProgress;

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Set platform if server is multi-platform capable (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    #[command(flatten)]
    pub trust: ContentTrust,
    /// The image: [REGISTRY/]NAME[:TAG] or NAME@DIGEST (tag latest when none is given)
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

/// Docker's `--disable-content-trust` (default true): berth neither signs nor verifies
/// images, so the flag is accepted and `=false` is refused.
#[derive(Args, Debug, Clone, Default)]
pub struct ContentTrust {
    /// Skip image signing and verification (berth does neither).
    #[arg(
        long = "disable-content-trust",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub disable_content_trust: Option<bool>,
}

impl ContentTrust {
    pub fn check(&self) -> anyhow::Result<()> {
        if self.disable_content_trust == Some(false) {
            bail!("content trust is not supported: berth does not sign or verify images");
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Push all tags of the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    #[command(flatten)]
    pub trust: ContentTrust,
    /// The image: [REGISTRY/]NAME[:TAG] (tag latest when none is given)
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// The registry: HOST[:PORT] (default docker.io)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The registry: HOST[:PORT] (default docker.io)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

pub fn pull(g: &Global, a: PullArgs) -> anyhow::Result<ExitCode> {
    a.trust.check()?;
    let e = engine(g)?;
    if !a.all_tags {
        return pull_to(&e, a, &mut std::io::stdout());
    }
    // --all-tags: every tag the registry lists, one pull each.
    let r = Reference::parse(&a.name)?;
    if r.tag().is_some() || r.digest().is_some() {
        bail!("tag can't be used with --all-tags/-a");
    }
    let tags = e.registry_tags(&r)?;
    if tags.is_empty() {
        bail!("repository {} has no tags", r.name());
    }
    for t in tags {
        let one = PullArgs {
            name: r.with_tag(&t)?.to_string(),
            all_tags: false,
            platform: a.platform.clone(),
            quiet: a.quiet,
            trust: ContentTrust::default(),
        };
        pull_to(&e, one, &mut std::io::stdout())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Pulls, writing the status lines to `out` (stdout for `pull`, stderr for `run`).
pub fn pull_to(e: &Engine, a: PullArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let pull = e.image_pull(&a.name, a.platform.as_deref())?;
    let r = pull.reference().clone();
    if !a.quiet {
        writeln!(
            out,
            "{}: Pulling from {}",
            r.tag().unwrap_or("latest"),
            r.path()
        )?;
    }
    let progress = LayerProgress::new(a.quiet);
    let p = pull.run(&progress)?;
    if !a.quiet {
        writeln!(out, "Digest: {}", p.manifest)?;
        if p.downloaded > 0 {
            writeln!(out, "Status: Downloaded newer image for {}", r.familiar())?;
        } else {
            writeln!(out, "Status: Image is up to date for {}", r.familiar())?;
        }
    }
    writeln!(out, "{r}")?;
    Ok(ExitCode::SUCCESS)
}

pub fn push(g: &Global, a: PushArgs) -> anyhow::Result<ExitCode> {
    a.trust.check()?;
    let e = engine(g)?;
    if !a.all_tags {
        return push_one(&e, &a.name, a.quiet);
    }
    // --all-tags: every local tag of the repository.
    let r = Reference::parse(&a.name)?;
    if r.tag().is_some() || r.digest().is_some() {
        bail!("tag can't be used with --all-tags/-a");
    }
    let names = e.local_tags(&r)?;
    if names.is_empty() {
        bail!(
            "An image does not exist locally with the tag: {}",
            r.familiar_name()
        );
    }
    for n in names {
        push_one(&e, &n, a.quiet)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn push_one(e: &Engine, name: &str, quiet: bool) -> anyhow::Result<ExitCode> {
    let push = e.image_push(name)?;
    let r = push.reference().clone();
    let mut out = std::io::stdout();
    writeln!(out, "The push refers to repository [{}]", r.name())?;
    let progress = LayerProgress::new(quiet);
    let p = push.run(&progress)?;
    writeln!(
        out,
        "{}: digest: {} size: {}",
        r.tag().unwrap_or("latest"),
        p.manifest,
        p.size
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn login(_g: &Global, a: LoginArgs) -> anyhow::Result<ExitCode> {
    let username = match a.username {
        Some(u) => u,
        None => bail!("username is required (use -u)"),
    };
    let password = if a.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("read password from stdin")?;
        let p = line.trim_end_matches(['\n', '\r']).to_owned();
        if p.is_empty() {
            // docker then asks on the terminal, which a pipe is not.
            bail!("Cannot perform an interactive login from a non TTY device");
        }
        p
    } else if let Some(p) = a.password {
        if std::io::stderr().is_terminal() {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        }
        p
    } else {
        bail!("password is required (use --password-stdin)");
    };
    Engine::registry_login(a.server.as_deref(), &username, &password)?;
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

pub fn logout(_g: &Global, a: LogoutArgs) -> anyhow::Result<ExitCode> {
    let out = Engine::registry_logout(a.server.as_deref())?;
    if out.removed {
        println!("Removing login credentials for {}", out.registry);
    } else {
        println!("Not logged in to {}", out.registry);
    }
    Ok(ExitCode::SUCCESS)
}
