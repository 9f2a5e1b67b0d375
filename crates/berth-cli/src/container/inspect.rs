//! `inspect`: containers, images and volumes in Docker's JSON shape (the engine's inspect
//! models), printed as JSON (indented by 4 spaces, keys in Docker's order) or through a
//! template.

use std::process::ExitCode;

use anyhow::{Result, bail};
use berth_engine::{ContainerInspect, ErrorKind, ImageInspect, NetworkInspect, VolumeInspect};
use clap::Args;
use serde::Serialize;

use super::engine;
use crate::cli::Global;
use crate::template::{Schema, docker};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container.
    #[arg(short, long)]
    pub size: bool,
    /// Return JSON for the specified type (container, image, volume, network).
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Containers, images or volumes, by name or ID (containers first, as docker looks
    /// them up; --type chooses)
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// Docker's object types (`--type`); Berth has containers, images and volumes.
const TYPES: [&str; 10] = [
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

/// One inspected object.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Object {
    Container(Box<ContainerInspect>),
    Image(Box<ImageInspect>),
    Volume(VolumeInspect),
    Network(Box<NetworkInspect>),
}

impl Object {
    /// The Go type docker's client reads it as, and whether docker falls back to its raw
    /// JSON for fields its type lacks.
    fn schema(&self) -> (&'static Schema, bool) {
        match self {
            Object::Container(_) => (&docker::CONTAINER, true),
            Object::Image(_) => (&docker::IMAGE, true),
            Object::Volume(_) => (&docker::VOLUME, false),
            Object::Network(_) => (&docker::NETWORK, true),
        }
    }
}

/// Prints `items` as Docker does: one JSON array, indented by 4 spaces with each object's
/// keys in its model's order (compact for `--format json`), or each item through a
/// template, one line each. Returns the template errors, which the caller reports (exit 1).
pub fn print(items: &[Object], format: Option<&str>) -> Result<Vec<String>> {
    let text = match format {
        None | Some("") => crate::output::json_indented(items)?,
        Some("json") => serde_json::to_string(items)?,
        Some(t) => {
            let mut values = Vec::new();
            for item in items {
                let mut v = serde_json::to_value(item)?;
                as_the_client_sees(&mut v);
                let (schema, fallback) = item.schema();
                values.push((v, schema, fallback));
            }
            return crate::output::print_inspect(&values, t);
        }
    };
    // A reader that went away is an error (reported quietly), not a panic.
    std::io::Write::write_all(&mut std::io::stdout(), format!("{text}\n").as_bytes())?;
    Ok(Vec::new())
}

/// What docker's client evaluates a template on: the daemon's JSON decoded into its Go
/// types. An image's `Config` is the image spec's config there, whose keys all have
/// `omitempty`: the empty `Cmd`, `Entrypoint`, `Labels`... the daemon sends are gone.
fn as_the_client_sees(v: &mut serde_json::Value) {
    use serde_json::Value;
    let is_image = v.get("RepoTags").is_some() && v.get("RootFS").is_some();
    if let (true, Some(Value::Object(cfg))) = (is_image, v.get_mut("Config")) {
        cfg.retain(|_, x| match x {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::Number(_) => true,
        });
    }
}

/// Whether `kind` (None: any) is `want`.
fn wants(kind: Option<&str>, want: &str) -> bool {
    kind.is_none_or(|k| k == want)
}

/// Passes a not-found error on as `None`, any other as an error.
fn found<T>(r: berth_engine::Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `container inspect`: containers only, as docker's ("No such container" for an image).
pub fn inspect_containers(g: &Global, mut a: InspectArgs) -> Result<ExitCode> {
    if a.kind.is_some() {
        crate::output::print_error(&anyhow::anyhow!("unknown flag: --type"));
        return Err(anyhow::Error::new(super::Exit(125)));
    }
    a.kind = Some("container".into());
    inspect(g, a)
}

/// `inspect`: containers, images, volumes and networks, or the kind `--type` names.
pub fn inspect(g: &Global, a: InspectArgs) -> Result<ExitCode> {
    let kind = a.kind.as_deref();
    if let Some(k) = kind
        && !TYPES.contains(&k)
    {
        let list = TYPES.map(|t| format!("{t:?}")).join(", ");
        bail!("unknown type: {k:?}: must be one of {list}");
    }
    let e = engine(g)?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for n in &a.names {
        if wants(kind, "container") {
            let c = if a.size {
                e.inspect_with_size(n)
            } else {
                e.inspect(n)
            };
            if let Some(c) = found(c)? {
                objects.push(Object::Container(Box::new(c)));
                continue;
            }
        }
        if wants(kind, "image")
            && let Some(i) = found(e.image_inspect(n))?
        {
            objects.push(Object::Image(Box::new(i)));
            continue;
        }
        if wants(kind, "volume")
            && let Some(v) = found(e.volume_inspect(n))?
        {
            objects.push(Object::Volume(v));
            continue;
        }
        if wants(kind, "network")
            && let Some(v) = found(e.network_inspect(n))?
        {
            objects.push(Object::Network(Box::new(v)));
            continue;
        }
        missing.push(n.clone());
    }
    let failed = print(&objects, a.format.as_deref())?;
    for f in &failed {
        eprintln!("{f}");
    }
    if !missing.is_empty() || !failed.is_empty() {
        for m in &missing {
            match kind {
                Some("container") => eprintln!("Error: No such container: {m}"),
                Some("image") => eprintln!("Error: No such image: {m}"),
                Some("volume") => eprintln!("Error: No such volume: {m}"),
                Some(other) if other != "network" => {
                    eprintln!("Error: No such {other}: {m} (berth has no {other}s)")
                }
                Some(other) => eprintln!("Error: {other} {m} not found"),
                None => eprintln!("Error: No such object: {m}"),
            }
        }
        return Err(anyhow::Error::new(super::Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}
