//! `berth`: parse arguments and dispatch to one module per command group.

mod cli;
mod image;
mod output;
mod progress;
mod registry;
mod system;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let g = cli.global();
    let res = match cli.command {
        Command::Image(c) => image::run(&g, c.command),
        Command::Images(a) => image::run(&g, image::ImageCommand::Ls(a)),
        Command::Rmi(a) => image::run(&g, image::ImageCommand::Rm(a)),
        Command::Tag(a) => image::run(&g, image::ImageCommand::Tag(a)),
        Command::Save(a) => image::run(&g, image::ImageCommand::Save(a)),
        Command::Load(a) => image::run(&g, image::ImageCommand::Load(a)),
        Command::Import(a) => image::run(&g, image::ImageCommand::Import(a)),
        Command::History(a) => image::run(&g, image::ImageCommand::History(a)),
        Command::Pull(a) => registry::pull(&g, a),
        Command::Push(a) => registry::push(&g, a),
        Command::Login(a) => registry::login(&g, a),
        Command::Logout(a) => registry::logout(&g, a),
        Command::System(c) => system::run(&g, c.command),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e);
            ExitCode::from(1)
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
