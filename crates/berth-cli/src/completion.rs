//! `berth completion bash|zsh|fish` (a completion script on stdout) and the hidden
//! `berth man-pages DIR` (one man page per command), both generated from the parser's own
//! definitions, so they never disagree with it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, ValueEnum};

use crate::cli::Cli;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
#[command(after_help = "Install, for example:\n  \
    berth completion bash > /usr/share/bash-completion/completions/berth\n  \
    berth completion zsh > /usr/local/share/zsh/site-functions/_berth\n  \
    berth completion fish > /usr/share/fish/vendor_completions.d/berth.fish")]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// The directory to write the pages into (berth.1, berth-run.1, ...), e.g.
    /// /usr/local/share/man/man1
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn completion(a: CompletionArgs) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    let shell = match a.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    // Into a buffer first: the generator panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "berth", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn man_pages(a: ManArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("create {}", a.dir.display()))?;
    clap_mangen::generate_to(Cli::command(), &a.dir)
        .with_context(|| format!("write man pages into {}", a.dir.display()))?;
    Ok(ExitCode::SUCCESS)
}
