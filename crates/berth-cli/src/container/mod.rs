//! Container commands: run, create, start, stop, ps, logs, exec, ... with docker's flags,
//! output and exit codes (125 for Berth's own errors, 126 cannot execute, 127 not found,
//! else the container's code).

pub mod args;
mod args_more;
mod envfile;
pub mod exec;
pub mod files;
pub mod inspect;
pub mod logs;
pub mod manage;
pub mod ps;
pub mod relay;
mod resource_args;
mod run;
pub mod stats;
pub mod update;

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cli::Global;

pub use args::CreateArgs;
pub use inspect::print as print_values;
pub use stats::binary_size;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Proxy received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys", default_value = "ctrl-p,ctrl-q")]
    pub detach_keys: String,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN.
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys", default_value = "ctrl-p,ctrl-q")]
    pub detach_keys: String,
    /// Containers, by name or ID (or a unique prefix of an ID)
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys", default_value = "ctrl-p,ctrl-q")]
    pub detach_keys: String,
    /// Container, by name or ID (or a unique prefix of its ID)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Create and run a new container from an image.
    #[command(disable_help_flag = true)]
    Run(Box<RunArgs>),
    /// Create a new container.
    #[command(disable_help_flag = true)]
    Create(Box<CreateArgs>),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Stop one or more running containers.
    Stop(manage::StopArgs),
    /// Restart one or more containers.
    Restart(manage::StopArgs),
    /// Kill one or more running containers.
    Kill(manage::KillArgs),
    /// Pause all processes within one or more containers.
    Pause(manage::NamesArgs),
    /// Unpause all processes within one or more containers.
    Unpause(manage::NamesArgs),
    /// Remove one or more containers.
    Rm(manage::RmArgs),
    /// List containers.
    #[command(alias = "ls", alias = "list")]
    Ps(ps::PsArgs),
    /// Fetch the logs of a container.
    Logs(logs::LogsArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(AttachArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(manage::NamesArgs),
    /// Display detailed information on one or more containers.
    Inspect(inspect::InspectArgs),
    /// Display the running processes of a container.
    Top(stats::TopArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(stats::StatsArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(files::CpArgs),
    /// Create a new image from a container's changes.
    Commit(files::CommitArgs),
    /// Export a container's filesystem as a tar archive.
    Export(files::ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(files::DiffArgs),
    /// Rename a container.
    Rename(manage::RenameArgs),
    /// List port mappings or a specific mapping for the container.
    Port(manage::PortArgs),
    /// Remove all stopped containers.
    Prune(manage::PruneArgs),
    /// Update configuration of one or more containers.
    Update(update::UpdateArgs),
}

/// Opens the engine for the global options.
pub fn engine(g: &Global) -> anyhow::Result<berth_engine::Engine> {
    Ok(berth_engine::Engine::open(&g.root, None)?)
}

pub fn run(g: &Global, cmd: ContainerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ContainerCommand::Run(a) => run::run(g, *a),
        ContainerCommand::Create(a) => run::create(g, *a),
        ContainerCommand::Start(a) => run::start(g, a),
        ContainerCommand::Attach(a) => run::attach(g, a),
        ContainerCommand::Stop(a) => manage::stop(g, a, false),
        ContainerCommand::Restart(a) => manage::stop(g, a, true),
        ContainerCommand::Kill(a) => manage::kill(g, a),
        ContainerCommand::Pause(a) => manage::pause(g, a, true),
        ContainerCommand::Unpause(a) => manage::pause(g, a, false),
        ContainerCommand::Rm(a) => manage::rm(g, a),
        ContainerCommand::Ps(a) => ps::ps(g, a),
        ContainerCommand::Logs(a) => logs::logs(g, a),
        ContainerCommand::Exec(a) => exec::exec(g, a),
        ContainerCommand::Wait(a) => manage::wait(g, a),
        ContainerCommand::Inspect(a) => inspect::inspect_containers(g, a),
        ContainerCommand::Top(a) => stats::top(g, a),
        ContainerCommand::Stats(a) => stats::stats(g, a),
        ContainerCommand::Cp(a) => files::cp(g, a),
        ContainerCommand::Commit(a) => files::commit(g, a),
        ContainerCommand::Export(a) => files::export(g, a),
        ContainerCommand::Diff(a) => files::diff(g, a),
        ContainerCommand::Rename(a) => manage::rename(g, a),
        ContainerCommand::Port(a) => manage::port(g, a),
        ContainerCommand::Prune(a) => manage::prune(g, a),
        ContainerCommand::Update(a) => update::update(g, a),
    }
}

/// An error that carries its own exit code (125, 126, 127 or the container's).
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// The exit code for an error: 125 unless it says otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(Exit(c)) = e.downcast_ref::<Exit>() {
        return *c;
    }
    if let Some(be) = e.downcast_ref::<berth_engine::Error>() {
        return exit_status(berth_engine::exit_code_for(be));
    }
    125
}

/// A process's exit code as this program's exit status: codes outside 0-255 clamp.
pub fn exit_status(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(if code < 0 { 0 } else { u8::MAX })
}
