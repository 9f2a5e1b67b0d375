//! cp, commit, export, diff.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::engine;
use crate::cli::Global;

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output.
    #[arg(short, long)]
    pub quiet: bool,
    pub src: String,
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
    pub container: String,
    pub repository: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
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

/// Extracts a tar from `input` into host `dest`, renaming its top entry to `rename` when
/// given; refuses entries with `..` or absolute paths.
fn extract_host(input: &mut dyn std::io::Read, dest: &Path, rename: Option<&str>) -> Result<()> {
    let mut ar = tar::Archive::new(input);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_overwrite(true);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::RootDir))
        {
            bail!("refusing archive entry {}", path.display());
        }
        let mut comps: Vec<&std::ffi::OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        if comps.is_empty() {
            continue;
        }
        if let Some(r) = rename {
            comps[0] = std::ffi::OsStr::new(r);
        }
        let rel: PathBuf = comps.iter().collect();
        let target = dest.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        entry
            .unpack(&target)
            .with_context(|| format!("extract {}", rel.display()))?;
    }
    Ok(())
}

pub fn cp(g: &Global, a: CpArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    match (split_container(&a.src), split_container(&a.dest)) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((c, path)), None) => {
            if a.dest == "-" {
                let mut out = std::io::stdout().lock();
                e.copy_out(c, path, &mut out)?;
                out.flush()?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut buf = Vec::new();
            e.copy_out(c, path, &mut buf)?;
            let dest = Path::new(&a.dest);
            let contents_only = path.ends_with("/.");
            if dest.is_dir() {
                if contents_only {
                    extract_host(&mut &buf[..], dest, None)
                        .and_then(|_| flatten_top(dest, Path::new(path)))?;
                } else {
                    extract_host(&mut &buf[..], dest, None)?;
                }
            } else {
                let parent = dest
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !parent.is_dir() {
                    bail!("destination directory {} does not exist", parent.display());
                }
                let name = dest
                    .file_name()
                    .and_then(|n| n.to_str())
                    .context("invalid destination")?;
                extract_host(&mut &buf[..], parent, Some(name))?;
            }
            if !a.quiet {
                eprintln!(
                    "Successfully copied {} to {}",
                    crate::output::human_size(buf.len() as u64),
                    a.dest
                );
            }
        }
        (None, Some((c, path))) => {
            if a.src == "-" {
                let mut input = std::io::stdin().lock();
                e.copy_in(c, path, &mut input, a.archive)?;
                return Ok(ExitCode::SUCCESS);
            }
            let src = Path::new(&a.src);
            let meta = std::fs::symlink_metadata(src)
                .with_context(|| format!("could not find the file {} in the host", a.src))?;
            // Into an existing directory as its own name; else as the destination's last
            // component, in its parent.
            let dest_is_dir = path.ends_with('/') || e.path_is_dir(c, path)? == Some(true);
            let src_name = src
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(".")
                .to_string();
            let (dir, name) = if dest_is_dir {
                (path.to_string(), src_name)
            } else {
                let p = Path::new(path);
                let parent = p
                    .parent()
                    .map(|x| x.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or(".")
                    .to_string();
                (
                    if parent.is_empty() {
                        "/".into()
                    } else {
                        parent
                    },
                    name,
                )
            };
            let mut buf = Vec::new();
            {
                let mut b = tar::Builder::new(&mut buf);
                b.follow_symlinks(a.follow_link);
                if meta.is_dir() {
                    b.append_dir_all(&name, src)?;
                } else {
                    b.append_path_with_name(src, &name)?;
                }
                b.finish()?;
            }
            e.copy_in(c, &dir, &mut &buf[..], a.archive)?;
            if !a.quiet {
                eprintln!(
                    "Successfully copied {} to {}",
                    crate::output::human_size(buf.len() as u64),
                    a.dest
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cp c:/dir/. dest`: the archive's top directory is dissolved into `dest`.
fn flatten_top(dest: &Path, src: &Path) -> Result<()> {
    let top = src
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| dest.join(n));
    if let Some(top) = top.filter(|t| t.is_dir()) {
        for entry in std::fs::read_dir(&top)? {
            let entry = entry?;
            std::fs::rename(entry.path(), dest.join(entry.file_name()))?;
        }
        std::fs::remove_dir(&top)?;
    }
    Ok(())
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
