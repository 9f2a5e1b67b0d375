//! cp, commit, export, diff.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::engine;
use crate::cli::Global;

#[derive(Args, Debug)]
#[command(
    override_usage = "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       \
    berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"
)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy. Progress output is automatically
    /// suppressed if no terminal is attached
    #[arg(short, long)]
    pub quiet: bool,
    /// What to copy: CONTAINER:SRC_PATH (a path in a container), a host path, or - to
    /// read a tar archive from stdin
    #[arg(value_name = "SRC")]
    pub src: String,
    /// Where to copy it: CONTAINER:DEST_PATH, a host path, or - to write a tar archive
    /// to stdout
    #[arg(value_name = "DEST")]
    pub dest: String,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author.
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit.
    #[arg(short, long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub pause: bool,
    /// Container, by name or ID (or a unique prefix of its ID)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Name (and tag) for the new image (default: untagged)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Container, by name or ID (or a unique prefix of its ID)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Container, by name or ID (or a unique prefix of its ID)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// "name:path" → (name, path) when the part before ':' is not a local path.
fn split_container(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    let (c, p) = s.split_once(':')?;
    if c.is_empty() { None } else { Some((c, p)) }
}

pub fn cp(g: &Global, a: CpArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let opts = berth_engine::CopyOptions {
        archive: a.archive,
        follow_link: a.follow_link,
    };
    let bytes = match (split_container(&a.src), split_container(&a.dest)) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((c, path)), None) if a.dest == "-" => {
            let mut out = std::io::stdout().lock();
            e.copy_out(c, path, &mut out, &opts)?;
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        // Host paths are made absolute and cleaned first, as docker's client does
        // (`./missing/../f` names `$PWD/f`).
        (Some((c, path)), None) => e.copy_to_host(c, path, Path::new(&absolute(&a.dest)), &opts)?,
        (None, Some((c, path))) if a.src == "-" => {
            let mut input = std::io::stdin().lock();
            e.copy_in(c, path, &mut input, &opts)?;
            return Ok(ExitCode::SUCCESS);
        }
        (None, Some((c, path))) => {
            e.copy_from_host(Path::new(&absolute(&a.src)), c, path, &opts)?
        }
    };
    // As docker's client: the summary goes to stderr, and only when stdout is a terminal
    // (a script that redirects the output gets none); it names a host destination by its
    // absolute path.
    if !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        let dest = match split_container(&a.dest) {
            Some(_) => a.dest.clone(),
            None => absolute(&a.dest),
        };
        eprintln!(
            "Successfully copied {} to {dest}",
            crate::output::human_size(bytes),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `path` made absolute and cleaned as Go's `filepath.Abs` does, keeping a trailing `/` or
/// `/.` (docker's `resolveLocalPath`).
fn absolute(path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        format!("{}/{path}", cwd.display())
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if (path.ends_with("/.") || path == ".") && !out.ends_with("/.") {
        out.push_str(if out == "/" { "." } else { "/." });
    } else if path.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

pub fn commit(g: &Global, a: CommitArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let reference = a
        .repository
        .as_deref()
        .map(berth_engine::image::Reference::parse_tagged)
        .transpose()?;
    let img = e.commit(
        &a.container,
        &berth_engine::image::CommitOptions {
            changes: a.change,
            message: a.message,
            author: a.author,
            reference,
            ..Default::default()
        },
        a.pause,
    )?;
    println!("{}", img.id);
    Ok(ExitCode::SUCCESS)
}

pub fn export(g: &Global, a: ExportArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    match &a.output {
        Some(p) => {
            let tmp = p.with_extension("berth-tmp");
            let mut f =
                std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let res = e.export(&a.container, &mut f).and_then(|_| {
                f.sync_all()
                    .map_err(|err| berth_engine::Error::io("sync", err))
            });
            if let Err(err) = res {
                let _ = std::fs::remove_file(&tmp);
                return Err(err.into());
            }
            std::fs::rename(&tmp, p)?;
        }
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut out = std::io::stdout().lock();
            e.export(&a.container, &mut out)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn diff(g: &Global, a: DiffArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let mut out = String::new();
    for (k, p) in e.diff(&a.container)? {
        out.push_str(&format!("{k} {p}\n"));
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_as_docker_prints_them() {
        let cwd = std::env::current_dir().unwrap();
        let cwd = cwd.to_str().unwrap();
        assert_eq!(absolute("/tmp//x/../y"), "/tmp/y");
        assert_eq!(absolute("out"), format!("{cwd}/out"));
        assert_eq!(absolute("./d/"), format!("{cwd}/d/"));
        assert_eq!(absolute("d/."), format!("{cwd}/d/."));
        assert_eq!(absolute("."), format!("{cwd}/."));
        assert_eq!(absolute("/"), "/");
        assert_eq!(split_container("c:/x"), Some(("c", "/x")));
        assert_eq!(split_container("./a:b"), None);
        assert_eq!(split_container("/a:b"), None);
    }
}
