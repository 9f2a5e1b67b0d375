//! `berth image ...` and its short forms.

mod archive;
mod ls;
mod manage;
pub(crate) use manage::deleted_images;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cli::Global;

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Remove one or more images.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Display detailed information on one or more images.
    Inspect(InspectArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// Remove unused images.
    Prune(PruneArgs),
    /// Download an image from a registry.
    Pull(crate::registry::PullArgs),
    /// Upload an image to a registry.
    Push(crate::registry::PushArgs),
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all images (default hides intermediate images).
    #[arg(short, long)]
    pub all: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=, reference=, label=, before=, since=).
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Only list images in this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force removal of the image.
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (accepted for compatibility).
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Images: NAME[:TAG], NAME@DIGEST, or IDs
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// The image to tag: NAME[:TAG], NAME@DIGEST, or an ID
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// The new name: [REGISTRY/]NAME[:TAG] (tag latest when none is given)
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go template, or json.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images: NAME[:TAG], NAME@DIGEST, or IDs
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format.
    #[arg(short = 'H', long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub human: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Image: NAME[:TAG], NAME@DIGEST, or an ID
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Archive format: docker (docker-archive) or oci (OCI image layout).
    #[arg(long, default_value = "docker")]
    pub format: String,
    /// Images: NAME[:TAG], NAME@DIGEST, or IDs
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Load only the given platform variant (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long = "change")]
    pub change: Vec<String>,
    /// Set commit message for imported image.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set platform (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// A tar archive of a root filesystem (plain, gzip or zstd), or - for STDIN
    #[arg(value_name = "file|-")]
    pub source: String,
    /// Name (and tag) for the new image (default: untagged)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (accepted: none yet).
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

pub fn run(g: &Global, cmd: ImageCommand) -> anyhow::Result<ExitCode> {
    let engine = || crate::container::engine(g);
    match cmd {
        ImageCommand::Ls(a) => ls::run(&engine()?, a),
        ImageCommand::Rm(a) => manage::rm(&engine()?, a),
        ImageCommand::Tag(a) => manage::tag(&engine()?, a),
        ImageCommand::Inspect(a) => manage::inspect(&engine()?, a),
        ImageCommand::History(a) => manage::history(&engine()?, a),
        ImageCommand::Prune(a) => manage::prune(&engine()?, a),
        ImageCommand::Save(a) => archive::save(&engine()?, a),
        ImageCommand::Load(a) => archive::load(&engine()?, a),
        ImageCommand::Import(a) => archive::import(&engine()?, a),
        ImageCommand::Pull(a) => crate::registry::pull(g, a),
        ImageCommand::Push(a) => crate::registry::push(g, a),
    }
}
