//! `pull`, `push`, `login`, `logout`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_image::{Platform, Reference};
use berth_registry::Client;
use berth_registry::auth::{self, Credentials};
use clap::Args;

use crate::cli::Global;
use crate::image::open_store;
use crate::progress::LayerProgress;

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Set platform if server is multi-platform capable (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
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
    /// Registry (default docker.io).
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

fn registry_name(server: Option<&str>) -> String {
    let s = server.unwrap_or("docker.io");
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let s = s.split('/').next().unwrap_or(s);
    if s == "index.docker.io" || s == "registry-1.docker.io" {
        "docker.io".into()
    } else {
        s.to_owned()
    }
}

pub fn pull(g: &Global, a: PullArgs) -> anyhow::Result<ExitCode> {
    pull_to(g, a, &mut std::io::stdout())
}

/// Pulls, writing the status lines to `out` (stdout for `pull`, stderr for `run`).
pub fn pull_to(g: &Global, a: PullArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let store = open_store(g)?;
    let r = Reference::parse_tagged(&a.name)?;
    let platform: Platform = match a.platform.as_deref() {
        Some(p) => p.parse()?,
        None => Platform::host(),
    };
    let client = Client::from_default_config()?;
    if !a.quiet {
        writeln!(
            out,
            "{}: Pulling from {}",
            r.tag().unwrap_or("latest"),
            r.path()
        )?;
    }
    let progress = LayerProgress::new(a.quiet);
    let p = client.pull(&store, &r, &platform, &progress)?;
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
    let store = open_store(g)?;
    let r = Reference::parse_tagged(&a.name)?;
    let img = store.resolve(&a.name)?;
    let mut client = Client::from_default_config()?;
    // For tests and slow links: upload blobs above this size in chunks.
    if let Some(n) = std::env::var("BERTH_PUSH_CHUNK_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        client = client.with_chunk_size(n);
    }
    let mut out = std::io::stdout();
    writeln!(out, "The push refers to repository [{}]", r.name())?;
    let progress = LayerProgress::new(a.quiet);
    let p = client.push(&store, &img, &r, &progress)?;
    let size = store.blobs().size(&p.manifest).unwrap_or(0);
    writeln!(
        out,
        "{}: digest: {} size: {size}",
        r.tag().unwrap_or("latest"),
        p.manifest
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn login(_g: &Global, a: LoginArgs) -> anyhow::Result<ExitCode> {
    let registry = registry_name(a.server.as_deref());
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
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else if let Some(p) = a.password {
        if std::io::stderr().is_terminal() {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        }
        p
    } else {
        bail!("password is required (use --password-stdin)");
    };
    let creds = Credentials { username, password };
    // Store first so the check uses them; roll back on failure.
    let previous = auth::lookup(&registry);
    auth::store(&registry, &creds)?;
    let client = Client::from_default_config()?;
    if let Err(e) = client.check_login(&registry) {
        match previous {
            Some(p) => auth::store(&registry, &p)?,
            None => {
                auth::remove(&registry)?;
            }
        }
        return Err(e.into());
    }
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

pub fn logout(_g: &Global, a: LogoutArgs) -> anyhow::Result<ExitCode> {
    let registry = registry_name(a.server.as_deref());
    if auth::remove(&registry)? {
        println!("Removing login credentials for {registry}");
    } else {
        println!("Not logged in to {registry}");
    }
    Ok(ExitCode::SUCCESS)
}
