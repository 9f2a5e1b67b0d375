//! The top-level command line: global options and command groups.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::image;
use crate::system;

#[derive(Parser, Debug)]
#[command(name = "berth", version, about = "A daemonless container engine")]
pub struct Cli {
    /// Data root (images, containers, state).
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth"
    )]
    pub root: PathBuf,

    /// Log level: error, warn, info, debug, trace.
    #[arg(long = "log-level", global = true, default_value = "warn")]
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
