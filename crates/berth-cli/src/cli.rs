//! The top-level command line: global options and command groups.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::image;
use crate::system;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "A daemonless container engine",
    disable_version_flag = true
)]
pub struct Cli {
    /// Print version information and quit (`-v` as docker's, `-V` as clap's).
    #[arg(short = 'v', long = "version", visible_short_alias = 'V', action = clap::ArgAction::Version)]
    pub version: Option<bool>,

    /// Data root: images, containers, volumes, state (runtime files go to /run/berth, or
    /// ROOT/run for another root). Options like this one go before the command, as
    /// docker's global options do
    #[arg(long, env = "BERTH_ROOT", default_value = "/var/lib/berth")]
    pub root: PathBuf,

    /// Log level: error, warn, info, debug, trace
    #[arg(long = "log-level", default_value = "warn")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command group gets.
#[derive(Debug, Clone)]
pub struct Global {
    pub root: PathBuf,
}

impl Cli {
    pub fn global(&self) -> Global {
        Global {
            root: self.root.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Manage images.
    Image(ImageGroup),
    /// List images.
    Images(image::LsArgs),
    /// Remove one or more images.
    Rmi(image::RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(image::TagArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(image::SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(image::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(image::ImportArgs),
    /// Show the history of an image.
    History(image::HistoryArgs),
    /// Download an image from a registry.
    Pull(crate::registry::PullArgs),
    /// Upload an image to a registry.
    Push(crate::registry::PushArgs),
    /// Log in to a registry.
    Login(crate::registry::LoginArgs),
    /// Log out from a registry.
    Logout(crate::registry::LogoutArgs),
    /// Manage Berth.
    System(SystemGroup),
    /// Manage containers.
    Container(ContainerGroup),
    /// Manage volumes.
    Volume(VolumeGroup),
    /// Manage networks.
    Network(NetworkGroup),
    /// Create and run a new container from an image.
    #[command(disable_help_flag = true)]
    Run(Box<crate::container::RunArgs>),
    /// Create a new container.
    #[command(disable_help_flag = true)]
    Create(Box<crate::container::CreateArgs>),
    /// Start one or more stopped containers.
    Start(crate::container::StartArgs),
    /// Stop one or more running containers.
    Stop(crate::container::manage::StopArgs),
    /// Restart one or more containers.
    Restart(crate::container::manage::StopArgs),
    /// Kill one or more running containers.
    Kill(crate::container::manage::KillArgs),
    /// Pause all processes within one or more containers.
    Pause(crate::container::manage::NamesArgs),
    /// Unpause all processes within one or more containers.
    Unpause(crate::container::manage::NamesArgs),
    /// Remove one or more containers.
    Rm(crate::container::manage::RmArgs),
    /// List containers.
    Ps(crate::container::ps::PsArgs),
    /// Fetch the logs of a container.
    Logs(crate::container::logs::LogsArgs),
    /// Execute a command in a running container.
    Exec(crate::container::exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(crate::container::AttachArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(crate::container::manage::NamesArgs),
    /// Return low-level information on containers, images and volumes.
    Inspect(crate::container::inspect::InspectArgs),
    /// Display the running processes of a container.
    Top(crate::container::stats::TopArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(crate::container::stats::StatsArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(crate::container::files::CpArgs),
    /// Create a new image from a container's changes.
    Commit(crate::container::files::CommitArgs),
    /// Export a container's filesystem as a tar archive.
    Export(crate::container::files::ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(crate::container::files::DiffArgs),
    /// Rename a container.
    Rename(crate::container::manage::RenameArgs),
    /// List port mappings or a specific mapping for the container.
    Port(crate::container::manage::PortArgs),
    /// Update configuration of one or more containers.
    Update(crate::container::update::UpdateArgs),
    /// Get real time events.
    Events(crate::events::EventsArgs),
    /// Display system-wide information.
    Info(crate::info::InfoArgs),
    /// Show the Berth version information.
    Version(crate::info::InfoArgs),
    /// Generate the shell completion script for bash, zsh or fish.
    Completion(crate::completion::CompletionArgs),
    /// Write the man pages of berth and every command into a directory.
    #[command(hide = true)]
    ManPages(crate::completion::ManArgs),
}

#[derive(Args, Debug)]
pub struct ContainerGroup {
    #[command(subcommand)]
    pub command: crate::container::ContainerCommand,
}

#[derive(Args, Debug)]
pub struct VolumeGroup {
    #[command(subcommand)]
    pub command: crate::volume::VolumeCommand,
}

#[derive(Args, Debug)]
pub struct NetworkGroup {
    #[command(subcommand)]
    pub command: crate::network::NetworkCommand,
}

#[derive(Args, Debug)]
pub struct ImageGroup {
    #[command(subcommand)]
    pub command: image::ImageCommand,
}

#[derive(Args, Debug)]
pub struct SystemGroup {
    #[command(subcommand)]
    pub command: system::SystemCommand,
}
