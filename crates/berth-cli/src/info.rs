//! `info` and `version`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use crate::cli::Global;
use crate::container::engine;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format the output using the given Go template ("json" for JSON).
    #[arg(short, long)]
    pub format: Option<String>,
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn print(v: &Value, format: Option<&str>, text: impl FnOnce() -> String) -> Result<()> {
    match format {
        Some("json") => println!("{}", serde_json::to_string(v)?),
        Some(t) => println!("{}", crate::output::render(t, v)?),
        None => print!("{}", text()),
    }
    Ok(())
}

pub fn info(g: &Global, a: InfoArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let cs = e.containers()?;
    let count = |s: berth_engine::Status| cs.iter().filter(|c| c.state.status == s).count();
    let running = count(berth_engine::Status::Running);
    let paused = count(berth_engine::Status::Paused);
    let images = e.store()?.images()?.len();
    let layout = berth_runtime::Layout::detect().ok();
    let mode = layout.as_ref().map(|l| l.mode);
    let cgroup_version = match mode {
        Some(berth_runtime::CgroupMode::Unified) => "2",
        Some(_) => "1",
        None => "",
    };
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let storage = std::env::var("BERTH_SNAPSHOTTER").unwrap_or_else(|_| "overlay".into());
    let v = json!({
        "Containers": cs.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": cs.len() - running - paused,
        "Images": images,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Driver": storage,
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "CgroupLayout": mode.map(|m| m.name()).unwrap_or("none"),
        "DefaultRuntime": "berth-runtime",
        "KernelVersion": kernel(),
        "OperatingSystem": os_name(),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": cpus,
        "MemTotal": mem,
        "DockerRootDir": e.paths.root,
        "RunRoot": e.paths.runroot,
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Name": nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        // Scripts ask docker whether swarm mode is on; berth has none.
        "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": false},
    });
    print(&v, a.format.as_deref(), || {
        format!(
            "Containers: {}\n Running: {running}\n Paused: {paused}\n Stopped: {}\nImages: {images}\n\
             Server Version: {}\nStorage Driver: {storage}\nLogging Driver: json-file\n\
             Cgroup Driver: cgroupfs\nCgroup Version: {cgroup_version} ({})\nDefault Runtime: berth-runtime\n\
             Security Options:\n seccomp\n  Profile: builtin\nKernel Version: {}\nOperating System: {}\n\
             OSType: linux\nArchitecture: {}\nCPUs: {cpus}\nTotal Memory: {}\nBerth Root Dir: {}\nRun Root Dir: {}\n",
            cs.len(),
            cs.len() - running - paused,
            env!("CARGO_PKG_VERSION"),
            mode.map(|m| m.name()).unwrap_or("none"),
            kernel(),
            os_name(),
            std::env::consts::ARCH,
            crate::container::binary_size(mem),
            e.paths.root.display(),
            e.paths.runroot.display(),
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn version(_g: &Global, a: InfoArgs) -> Result<ExitCode> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        o => o,
    };
    let v = json!({
        "Client": {"Version": env!("CARGO_PKG_VERSION"), "Os": "linux", "Arch": arch},
        "Server": {"Version": env!("CARGO_PKG_VERSION"), "Os": "linux", "Arch": arch, "KernelVersion": kernel(),
                   "Components": [{"Name": "berth-runtime", "Version": env!("CARGO_PKG_VERSION")}]},
    });
    print(&v, a.format.as_deref(), || {
        format!(
            "Client:\n Version:    {0}\n OS/Arch:    linux/{1}\n\nServer:\n Engine:\n  Version:  {0} (daemonless)\n  OS/Arch:  linux/{1}\n  Kernel:   {2}\n berth-runtime:\n  Version:  {0}\n",
            env!("CARGO_PKG_VERSION"),
            arch,
            kernel()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
