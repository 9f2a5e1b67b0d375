//! `info` and `version`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use crate::cli::Global;
use crate::container::engine;
use crate::template::{Schema, docker};

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format the output using the given Go template ("json" for JSON).
    #[arg(short, long)]
    pub format: Option<String>,
}

/// Prints `v` as JSON, through the template `format` (docker names `version`'s template
/// "version"), or as `text`.
fn print(
    v: &Value,
    format: Option<&str>,
    (name, schema): (&str, &Schema),
    text: impl FnOnce() -> String,
) -> Result<()> {
    match format {
        Some("json") => println!("{}", serde_json::to_string(v)?),
        Some(t) => crate::output::print_template(name, t, v, schema)?,
        None => print!("{}", text()),
    }
    Ok(())
}

pub fn info(g: &Global, a: InfoArgs) -> Result<ExitCode> {
    let i = engine(g)?.info()?;
    let v = serde_json::to_value(&i)?;
    print(&v, a.format.as_deref(), ("", &docker::INFO), || {
        format!(
            "Containers: {}\n Running: {}\n Paused: {}\n Stopped: {}\nImages: {}\n\
             Server Version: {}\nStorage Driver: {}\nLogging Driver: {}\n\
             Cgroup Driver: {}\nCgroup Version: {} ({})\nDefault Runtime: {}\n\
             Security Options:\n seccomp\n  Profile: builtin\nKernel Version: {}\nOperating System: {}\n\
             OSType: {}\nArchitecture: {}\nCPUs: {}\nTotal Memory: {}\nBerth Root Dir: {}\nRun Root Dir: {}\n",
            i.containers,
            i.containers_running,
            i.containers_paused,
            i.containers_stopped,
            i.images,
            i.server_version,
            i.driver,
            i.logging_driver,
            i.cgroup_driver,
            i.cgroup_version,
            i.cgroup_layout,
            i.default_runtime,
            i.kernel_version,
            i.operating_system,
            i.os_type,
            i.architecture,
            i.ncpu,
            crate::container::binary_size(i.mem_total),
            i.docker_root_dir.display(),
            i.run_root.display(),
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn version(_g: &Global, a: InfoArgs) -> Result<ExitCode> {
    // The client's version is this binary's; the engine's is the library's (the same
    // build, but it is the engine that says).
    let v = berth_engine::version();
    let json = json!({
        "Client": {"Version": env!("CARGO_PKG_VERSION"), "Os": "linux", "Arch": v.arch},
        "Server": {"Version": v.version, "Os": v.os, "Arch": v.arch, "KernelVersion": v.kernel_version,
                   "Components": [{"Name": "berth-runtime", "Version": v.version}]},
    });
    print(
        &json,
        a.format.as_deref(),
        ("version", &docker::VERSION),
        || {
            format!(
                "Client:\n Version:    {0}\n OS/Arch:    linux/{1}\n\nServer:\n Engine:\n  Version:  {2} (daemonless)\n  OS/Arch:  {3}/{1}\n  Kernel:   {4}\n berth-runtime:\n  Version:  {2}\n",
                env!("CARGO_PKG_VERSION"),
                v.arch,
                v.version,
                v.os,
                v.kernel_version
            )
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
