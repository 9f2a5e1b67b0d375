//! `berth-runtime`: a runc-compatible command line over the berth-runtime library.

mod cli;
mod commands;
mod log;
mod update;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    berth_runtime::util::trace("main");
    let args = cli::Cli::parse();
    berth_runtime::util::trace("parsed");
    let logger = match log::Logger::new(args.log.as_deref(), &args.log_format, args.debug) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("berth-runtime: cannot open log file: {e}");
            return ExitCode::from(1);
        }
    };
    match commands::dispatch(&args, &logger) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            logger.error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}
