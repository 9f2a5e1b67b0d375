//! `berth update`: change the resource limits and restart policy of containers.

use std::process::ExitCode;

use anyhow::Result;
use berth_engine::UpdateRequest;
use clap::Args;

use super::resource_args::ResourceArgs;
use crate::cli::Global;
use berth_engine::config::parse;

#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    pub restart: Option<String>,
    /// Containers, by name or ID (or a unique prefix of an ID)
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

impl UpdateArgs {
    fn request(&self) -> Result<UpdateRequest> {
        Ok(UpdateRequest {
            restart_policy: self.restart.as_deref().map(parse::restart).transpose()?,
            ..parse::update_request(&self.resources.flags())?
        })
    }
}

/// Prints each container updated; errors are one line each and make the exit code 1.
pub fn update(g: &Global, a: UpdateArgs) -> Result<ExitCode> {
    // Docker's usage error (exit 1): an update that changes nothing is a mistake.
    if a.restart.is_none() && a.resources == ResourceArgs::default() {
        anyhow::bail!("you must provide one or more flags when using this command");
    }
    let req = match a.request() {
        Ok(r) => r,
        Err(e) => {
            crate::output::print_error(&e);
            return Err(anyhow::Error::new(super::Exit(125)));
        }
    };
    super::manage::each(g, &a.containers, |e, n| {
        for w in e.update_with_warnings(n, &req)? {
            eprintln!("WARNING: {w}");
        }
        Ok(())
    })
}
