#![recursion_limit = "512"]
//! `berth`: parse arguments and dispatch to one module per command group.

mod cli;
mod completion;
mod container;
mod events;
mod gojson;
mod image;
mod info;
mod network;
mod output;
mod pipe;
mod progress;
mod registry;
mod system;
mod tabwriter;
mod template;
mod usage;
mod volume;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use container::ContainerCommand;

fn main() -> ExitCode {
    pipe::die_quietly_on_closed_stdout();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
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
        Command::Container(c) => container::run(&g, c.command),
        Command::Volume(c) => volume::run(&g, c.command),
        Command::Network(c) => network::run(&g, c.command),
        Command::Run(a) => container::run(&g, ContainerCommand::Run(a)),
        Command::Create(a) => container::run(&g, ContainerCommand::Create(a)),
        Command::Start(a) => container::run(&g, ContainerCommand::Start(a)),
        Command::Stop(a) => container::run(&g, ContainerCommand::Stop(a)),
        Command::Restart(a) => container::run(&g, ContainerCommand::Restart(a)),
        Command::Kill(a) => container::run(&g, ContainerCommand::Kill(a)),
        Command::Pause(a) => container::run(&g, ContainerCommand::Pause(a)),
        Command::Unpause(a) => container::run(&g, ContainerCommand::Unpause(a)),
        Command::Rm(a) => container::run(&g, ContainerCommand::Rm(a)),
        Command::Ps(a) => container::run(&g, ContainerCommand::Ps(a)),
        Command::Logs(a) => container::run(&g, ContainerCommand::Logs(a)),
        Command::Exec(a) => container::run(&g, ContainerCommand::Exec(a)),
        Command::Attach(a) => container::run(&g, ContainerCommand::Attach(a)),
        Command::Wait(a) => container::run(&g, ContainerCommand::Wait(a)),
        Command::Inspect(a) => container::inspect::inspect(&g, a),
        Command::Top(a) => container::run(&g, ContainerCommand::Top(a)),
        Command::Stats(a) => container::run(&g, ContainerCommand::Stats(a)),
        Command::Cp(a) => container::run(&g, ContainerCommand::Cp(a)),
        Command::Commit(a) => container::run(&g, ContainerCommand::Commit(a)),
        Command::Export(a) => container::run(&g, ContainerCommand::Export(a)),
        Command::Diff(a) => container::run(&g, ContainerCommand::Diff(a)),
        Command::Rename(a) => container::run(&g, ContainerCommand::Rename(a)),
        Command::Port(a) => container::run(&g, ContainerCommand::Port(a)),
        Command::Update(a) => container::run(&g, ContainerCommand::Update(a)),
        Command::Events(a) => events::events(&g, a),
        Command::Info(a) => info::info(&g, a),
        Command::Version(a) => info::version(&g, a),
        Command::Completion(a) => completion::completion(a),
        Command::ManPages(a) => completion::man_pages(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            // Errors that carry an exit code were printed where they happened.
            if let Some(container::Exit(c)) = e.downcast_ref::<container::Exit>() {
                return ExitCode::from(*c);
            }
            output::print_error(&e);
            ExitCode::from(1)
        }
    }
}

/// Docker's exit codes for a command line it cannot take: a bad flag or flag value exits
/// 125 (pflag's errors), a missing or extra argument or an unknown command exits 1 (cobra's
/// argument checks), a command group without a command prints its help and exits 0, and
/// `--help`/`--version` exit 0.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let code = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            let _ = writeln!(std::io::stdout(), "{}", help_for_command_line());
            return ExitCode::SUCCESS;
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::InvalidSubcommand
        | ErrorKind::WrongNumberOfValues
        | ErrorKind::TooManyValues
        | ErrorKind::TooFewValues => 1,
        // An unexpected word is an extra argument (1); an unexpected `-x` a bad flag (125).
        ErrorKind::UnknownArgument => match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(a)) if !a.starts_with('-') => 1,
            _ => 125,
        },
        _ => 125,
    };
    usage::print(e);
    ExitCode::from(code)
}

/// The help of the command group the command line names (`berth container`).
fn help_for_command_line() -> String {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    for word in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
        match cmd.find_subcommand(&word) {
            Some(sub) => cmd = sub.clone(),
            None => break,
        }
    }
    cmd.render_help().to_string()
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
