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
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    #[command(flatten)]
    pub trust: ContentTrust,
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
    a.trust.check()?;
    if !a.all_tags {
        return pull_to(g, a, &mut std::io::stdout());
    }
    // --all-tags: every tag the registry lists, one pull each.
    let r = Reference::parse(&a.name)?;
    if r.tag().is_some() || r.digest().is_some() {
        bail!("tag can't be used with --all-tags/-a");
    }
    let tags = Client::from_default_config()?.tags(&r)?;
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
        pull_to(g, one, &mut std::io::stdout())?;
    }
    Ok(ExitCode::SUCCESS)
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
    a.trust.check()?;
    if !a.all_tags {
        return push_one(g, &a.name, a.quiet);
    }
    // --all-tags: every local tag of the repository.
    let r = Reference::parse(&a.name)?;
    if r.tag().is_some() || r.digest().is_some() {
        bail!("tag can't be used with --all-tags/-a");
    }
    let prefix = format!("{}:", r.name());
    let mut names: Vec<String> = open_store(g)?
        .images()?
        .into_iter()
        .flat_map(|i| i.tags)
        .filter(|t| t.starts_with(&prefix))
        .collect();
    names.sort();
    if names.is_empty() {
        bail!(
            "An image does not exist locally with the tag: {}",
            r.familiar_name()
        );
    }
    for n in names {
        push_one(g, &n, a.quiet)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn push_one(g: &Global, name: &str, quiet: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(g)?;
    let r = Reference::parse_tagged(name)?;
    let img = store.resolve(name)?;
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
    let progress = LayerProgress::new(quiet);
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
