//! `info` and `version`, laid out as Docker's client lays them out: a Client section (this
//! binary) and a Server section (the engine), with Docker's JSON keys for `--format`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use berth_engine::{API_VERSION, Info};
use clap::Args;
use serde::Serialize;

use crate::cli::Global;
use crate::container::engine;
use crate::template::{Schema, docker};

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format the output using the given Go template ("json" for JSON).
    #[arg(short, long)]
    pub format: Option<String>,
}

/// The client's part of `version` (Docker's `clientVersion`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ClientVersion {
    version: &'static str,
    #[serde(rename = "ApiVersion")]
    api_version: &'static str,
    #[serde(rename = "DefaultAPIVersion")]
    default_api_version: &'static str,
    git_commit: &'static str,
    go_version: &'static str,
    os: &'static str,
    arch: String,
    build_time: &'static str,
    context: &'static str,
}

fn client_version() -> ClientVersion {
    ClientVersion {
        version: env!("CARGO_PKG_VERSION"),
        api_version: API_VERSION,
        default_api_version: API_VERSION,
        git_commit: option_env!("BERTH_GIT_COMMIT").unwrap_or(""),
        go_version: "",
        os: "linux",
        arch: berth_engine::version().arch,
        build_time: "",
        context: "default",
    }
}

/// The client's part of `info` (Docker's `clientInfo`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ClientInfo {
    debug: bool,
    #[serde(flatten)]
    version: ClientVersion,
    plugins: Vec<String>,
    warnings: Option<Vec<String>>,
}

/// What `info --format` sees: the server's fields, then `ClientInfo`.
#[derive(Serialize)]
struct FullInfo<'a> {
    #[serde(flatten)]
    info: &'a Info,
    #[serde(rename = "ClientInfo")]
    client: ClientInfo,
}

/// Prints `v` as JSON (`json`, `{{json .}}`, keys in Docker's order) or through a template;
/// None: the caller prints its text.
/// Templates run over the Go type docker reads the value as (docker names `version`'s
/// template "version").
fn formatted<T: Serialize>(
    v: &T,
    format: Option<&str>,
    (name, schema): (&str, &Schema),
) -> Result<bool> {
    match format {
        None | Some("") => Ok(false),
        Some(f) if crate::gojson::is_whole_json(f) => {
            println!("{}", crate::gojson::to_string(v)?);
            Ok(true)
        }
        Some(t) => {
            crate::output::print_template(name, t, &serde_json::to_value(v)?, schema)?;
            Ok(true)
        }
    }
}

pub fn info(g: &Global, a: InfoArgs) -> Result<ExitCode> {
    let i = engine(g)?.info()?;
    let full = FullInfo {
        info: &i,
        client: ClientInfo {
            debug: false,
            version: client_version(),
            plugins: Vec::new(),
            warnings: None,
        },
    };
    if formatted(&full, a.format.as_deref(), ("", &docker::INFO))? {
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", info_text(&i));
    for w in i.warnings.iter().flatten() {
        eprintln!("{w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's `prettyPrintInfo`, with Berth's values (and its cgroup layout and run root).
fn info_text(i: &Info) -> String {
    let mut o = String::new();
    let c = client_version();
    let _ = writeln!(o, "Client:");
    let _ = writeln!(o, " Version:    {}", c.version);
    let _ = writeln!(o, " Context:    {}", c.context);
    let _ = writeln!(o, " Debug Mode: false");
    let _ = writeln!(o);
    let _ = writeln!(o, "Server:");
    let _ = writeln!(o, " Containers: {}", i.containers);
    let _ = writeln!(o, "  Running: {}", i.containers_running);
    let _ = writeln!(o, "  Paused: {}", i.containers_paused);
    let _ = writeln!(o, "  Stopped: {}", i.containers_stopped);
    let _ = writeln!(o, " Images: {}", i.images);
    let _ = writeln!(o, " Server Version: {}", i.server_version);
    let _ = writeln!(o, " Storage Driver: {}", i.driver);
    for [k, v] in &i.driver_status {
        let _ = writeln!(o, "  {k}: {v}");
    }
    let _ = writeln!(o, " Logging Driver: {}", i.logging_driver);
    let _ = writeln!(o, " Cgroup Driver: {}", i.cgroup_driver);
    if !i.cgroup_version.is_empty() {
        let _ = writeln!(o, " Cgroup Version: {}", i.cgroup_version);
    }
    let _ = writeln!(o, " Cgroup Layout: {}", i.cgroup_layout);
    let _ = writeln!(o, " Plugins:");
    let _ = writeln!(o, "  Volume: {}", i.plugins.volume.join(" "));
    let _ = writeln!(o, "  Network: {}", i.plugins.network.join(" "));
    let _ = writeln!(o, "  Log: {}", i.plugins.log.join(" "));
    let _ = writeln!(o, " Swarm: {}", i.swarm.local_node_state);
    let names: Vec<&str> = i.runtimes.keys().map(String::as_str).collect();
    let _ = writeln!(o, " Runtimes: {}", names.join(" "));
    let _ = writeln!(o, " Default Runtime: {}", i.default_runtime);
    let _ = writeln!(o, " Init Binary: {}", i.init_binary);
    let _ = writeln!(o, " containerd version: {}", i.containerd_commit.id);
    let _ = writeln!(o, " runc version: {}", i.runc_commit.id);
    let _ = writeln!(o, " init version: {}", i.init_commit.id);
    let _ = writeln!(o, " Security Options:");
    for opt in &i.security_options {
        let mut kv = opt.split(',').filter_map(|p| p.split_once('='));
        if let Some((_, name)) = kv.next() {
            let _ = writeln!(o, "  {name}");
        }
        for (k, v) in kv {
            if k == "profile" {
                let _ = writeln!(o, "   Profile: {v}");
            }
        }
    }
    let _ = writeln!(o, " Kernel Version: {}", i.kernel_version);
    let _ = writeln!(o, " Operating System: {}", i.operating_system);
    let _ = writeln!(o, " OSType: {}", i.os_type);
    let _ = writeln!(o, " Architecture: {}", i.architecture);
    let _ = writeln!(o, " CPUs: {}", i.ncpu);
    let _ = writeln!(
        o,
        " Total Memory: {}",
        crate::container::binary_size(i.mem_total)
    );
    let _ = writeln!(o, " Name: {}", i.name);
    let _ = writeln!(o, " ID: {}", i.id);
    let _ = writeln!(o, " Docker Root Dir: {}", i.docker_root_dir.display());
    let _ = writeln!(o, " Run Root Dir: {}", i.run_root.display());
    let _ = writeln!(o, " Debug Mode: {}", i.debug);
    for (label, v) in [
        ("HTTP Proxy", &i.http_proxy),
        ("HTTPS Proxy", &i.https_proxy),
        ("No Proxy", &i.no_proxy),
    ] {
        if !v.is_empty() {
            let _ = writeln!(o, " {label}: {v}");
        }
    }
    let _ = writeln!(o, " Experimental: {}", i.experimental_build);
    let _ = writeln!(o, " Insecure Registries:");
    for r in i
        .registry_config
        .index_configs
        .values()
        .filter(|r| !r.secure)
    {
        let _ = writeln!(o, "  {}", r.name);
    }
    for cidr in &i.registry_config.insecure_registry_cidrs {
        let _ = writeln!(o, "  {cidr}");
    }
    if !i.registry_config.mirrors.is_empty() {
        let _ = writeln!(o, " Registry Mirrors:");
        for m in &i.registry_config.mirrors {
            let _ = writeln!(o, "  {m}");
        }
    }
    let _ = writeln!(o, " Live Restore Enabled: {}", i.live_restore_enabled);
    let _ = writeln!(o);
    o
}

/// What `version --format` sees.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Versions {
    client: ClientVersion,
    server: ServerVersion,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServerVersion {
    platform: Platform,
    components: Vec<Component>,
    version: String,
    #[serde(rename = "ApiVersion")]
    api_version: String,
    #[serde(rename = "MinAPIVersion")]
    min_api_version: String,
    git_commit: String,
    go_version: String,
    os: String,
    arch: String,
    kernel_version: String,
    build_time: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Platform {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Component {
    name: String,
    version: String,
    details: std::collections::BTreeMap<String, String>,
}

/// Docker's `version` table: labels padded to 20 columns (its tabwriter's minimum).
fn row(o: &mut String, indent: &str, label: &str, value: &str) {
    let cell = format!("{indent}{label}:");
    let _ = writeln!(o, "{cell:<20}{value}");
}

pub fn version(_g: &Global, a: InfoArgs) -> Result<ExitCode> {
    // The client's version is this binary's; the engine's is the library's (the same
    // build, but it is the engine that says).
    let v = berth_engine::version();
    let engine_details = std::collections::BTreeMap::from([
        ("ApiVersion".to_owned(), v.api_version.clone()),
        ("Arch".to_owned(), v.arch.clone()),
        ("BuildTime".to_owned(), v.build_time.clone()),
        ("Experimental".to_owned(), "false".to_owned()),
        ("GitCommit".to_owned(), v.git_commit.clone()),
        ("GoVersion".to_owned(), v.go_version.clone()),
        ("KernelVersion".to_owned(), v.kernel_version.clone()),
        ("MinAPIVersion".to_owned(), v.min_api_version.clone()),
        ("Os".to_owned(), v.os.clone()),
    ]);
    let all = Versions {
        client: client_version(),
        server: ServerVersion {
            platform: Platform {
                name: "Berth".into(),
            },
            components: vec![
                Component {
                    name: "Engine".into(),
                    version: v.version.clone(),
                    details: engine_details,
                },
                Component {
                    name: "berth-runtime".into(),
                    version: v.version.clone(),
                    details: std::collections::BTreeMap::from([(
                        "GitCommit".to_owned(),
                        v.git_commit.clone(),
                    )]),
                },
            ],
            version: v.version.clone(),
            api_version: v.api_version.clone(),
            min_api_version: v.min_api_version.clone(),
            git_commit: v.git_commit.clone(),
            go_version: v.go_version.clone(),
            os: v.os.clone(),
            arch: v.arch.clone(),
            kernel_version: v.kernel_version.clone(),
            build_time: v.build_time.clone(),
        },
    };
    if formatted(&all, a.format.as_deref(), ("version", &docker::VERSION))? {
        return Ok(ExitCode::SUCCESS);
    }
    let c = &all.client;
    let s = &all.server;
    let mut o = String::from("Client:\n");
    row(&mut o, " ", "Version", c.version);
    row(&mut o, " ", "API version", c.api_version);
    row(&mut o, " ", "Go version", c.go_version);
    row(&mut o, " ", "Git commit", c.git_commit);
    row(&mut o, " ", "Built", c.build_time);
    row(&mut o, " ", "OS/Arch", &format!("{}/{}", c.os, c.arch));
    row(&mut o, " ", "Context", c.context);
    let _ = writeln!(o, "\nServer: {}", s.platform.name);
    let _ = writeln!(o, " Engine:");
    row(&mut o, "  ", "Version", &s.version);
    row(
        &mut o,
        "  ",
        "API version",
        &format!("{} (minimum version {})", s.api_version, s.min_api_version),
    );
    row(&mut o, "  ", "Go version", &s.go_version);
    row(&mut o, "  ", "Git commit", &s.git_commit);
    row(&mut o, "  ", "Built", &s.build_time);
    row(&mut o, "  ", "OS/Arch", &format!("{}/{}", s.os, s.arch));
    row(&mut o, "  ", "Experimental", "false");
    let _ = writeln!(o, " berth-runtime:");
    row(&mut o, "  ", "Version", &s.version);
    row(&mut o, "  ", "GitCommit", &s.git_commit);
    print!("{o}");
    Ok(ExitCode::SUCCESS)
}
