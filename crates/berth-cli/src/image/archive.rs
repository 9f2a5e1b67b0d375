//! `save`, `load` and `import`.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_engine::Engine;
use berth_engine::image::{ArchiveFormat, ImportOptions, Platform, Reference, check_import};

use super::{ImportArgs, LoadArgs, SaveArgs};
use crate::progress::LayerProgress;

pub fn save(e: &Engine, a: SaveArgs) -> anyhow::Result<ExitCode> {
    let format = match a.format.as_str() {
        "docker" | "docker-archive" => ArchiveFormat::Docker,
        "oci" | "oci-archive" => ArchiveFormat::Oci,
        other => bail!("invalid save format {other:?} (use docker or oci)"),
    };
    match &a.output {
        Some(path) => {
            // Write next to the target and rename, so a failed save leaves no half file.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = tempfile_in(dir, path)?;
            let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let res = e
                .image_save(&a.images, format, BufWriter::with_capacity(1 << 20, f))
                .map_err(anyhow::Error::from)
                .and_then(|w| {
                    w.into_inner()
                        .map(drop)
                        .map_err(|e| anyhow::anyhow!("write {}: {}", path.display(), e.error()))
                });
            if let Err(e) = res {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
        }
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let out = io::stdout().lock();
            let mut w = e.image_save(&a.images, format, BufWriter::with_capacity(1 << 20, out))?;
            w.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn tempfile_in(dir: &Path, target: &Path) -> anyhow::Result<std::path::PathBuf> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "archive".into());
    Ok(dir.join(format!(".{name}.tmp-{}", std::process::id())))
}

pub fn load(e: &Engine, a: LoadArgs) -> anyhow::Result<ExitCode> {
    let platform: Option<Platform> = a.platform.as_deref().map(str::parse).transpose()?;
    let progress = LayerProgress::new(a.quiet);
    let loaded = match &a.input {
        Some(p) => {
            let f = File::open(p).with_context(|| format!("open {}", p.display()))?;
            e.image_load(
                BufReader::with_capacity(1 << 20, f),
                platform.as_ref(),
                &progress,
            )?
        }
        None => {
            if io::stdin().is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            e.image_load(
                BufReader::with_capacity(1 << 20, io::stdin().lock()),
                platform.as_ref(),
                &progress,
            )?
        }
    };
    let mut out = String::new();
    for l in loaded {
        if l.names.is_empty() {
            out.push_str(&format!("Loaded image ID: {}\n", l.image.id));
        }
        for n in l.names {
            out.push_str(&format!("Loaded image: {n}\n"));
        }
    }
    io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

pub fn import(e: &Engine, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let reference = a
        .reference
        .as_deref()
        .map(Reference::parse_tagged)
        .transpose()?;
    let platform: Option<Platform> = a.platform.as_deref().map(str::parse).transpose()?;
    let opts = ImportOptions {
        changes: a.change.clone(),
        message: a.message.clone(),
        platform,
        reference,
        // Docker's client streams a file as it does stdin: the comment says "-".
        source: "-".into(),
    };
    check_import(&opts)?;
    let img = if a.source == "-" {
        e.image_import(BufReader::with_capacity(1 << 20, io::stdin().lock()), &opts)?
    } else {
        let f = File::open(&a.source).with_context(|| format!("open {}", a.source))?;
        e.image_import(BufReader::with_capacity(1 << 20, f), &opts)?
    };
    println!("{}", img.id);
    Ok(ExitCode::SUCCESS)
}
