//! Usage errors in docker's words: `berth: 'berth run' requires at least 1 argument`,
//! `unknown flag: --bogus`, `berth: unknown command: berth bogus`, then the command's usage
//! and where to read more, instead of clap's own layout (`error: ...`). Help and version
//! are printed as clap prints them.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Command, CommandFactory};

use crate::cli::Cli;

/// Prints `e` (from parsing the command line) on stderr, or help/version on stdout.
pub fn print(e: &clap::Error) {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
        }
        _ => eprint!("{}", render(e)),
    }
}

fn string(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The command the arguments name ("berth image ls"), for errors that carry no usage:
/// the leading words that are subcommands, past the root's options and their values.
fn path_from_args(root: &Command, args: &[String]) -> Vec<String> {
    let mut path = vec!["berth".to_owned()];
    let mut cmd = root;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--root" || a == "--log-level" {
            it.next();
            continue;
        }
        if a.starts_with('-') {
            if path.len() > 1 {
                break;
            }
            continue;
        }
        match cmd.find_subcommand(a) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                cmd = sub;
            }
            None => break,
        }
    }
    path
}

/// The usage line ("berth ps [OPTIONS]") and the command's path ("berth ps").
fn usage(e: &clap::Error, root: &Command, args: &[String]) -> (String, Vec<String>) {
    let mut text = string(e, ContextKind::Usage).unwrap_or_default();
    if text.trim().is_empty() {
        let path = path_from_args(root, args);
        if let Some(cmd) = find(root, &path) {
            text = cmd.clone().render_usage().to_string();
        }
    }
    let line = text
        .trim()
        .strip_prefix("Usage:")
        .unwrap_or(text.trim())
        .trim()
        .to_owned();
    let path: Vec<String> = line
        .split_whitespace()
        .take_while(|w| !w.starts_with('[') && !w.starts_with('<'))
        .map(str::to_owned)
        .collect();
    let path = if path.is_empty() {
        vec!["berth".to_owned()]
    } else {
        path
    };
    // The command as typed ("berth container cp"), where a usage names it shorter.
    let typed = path_from_args(root, args);
    let path = if typed.len() > path.len() && find(root, &typed).is_some() {
        typed
    } else {
        path
    };
    // The command's whole usage, as docker prints it ("berth cp [OPTIONS] CONTAINER:SRC_PATH ..."),
    // not only what the error lacked.
    let line = match find(root, &path) {
        Some(cmd) => {
            let full = cmd.clone().render_usage().to_string();
            let full = full.trim();
            full.strip_prefix("Usage:")
                .unwrap_or(full)
                .trim()
                .to_owned()
        }
        None => line,
    };
    (docker_usage(&line, &path.join(" ")), path)
}

/// clap's usage in docker's notation: `<CONTAINER>` as `CONTAINER`, a list that is the
/// rest of the line (`<IMAGE [COMMAND] [ARG...]>...`) without its `<>...`, the lines of
/// a command with two forms (cp) joined by a tab as docker joins them.
/// Each line starts with the command as `name` gives it ("berth container cp").
fn docker_usage(line: &str, name: &str) -> String {
    let lines: Vec<String> = line
        .lines()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let args = words
                .iter()
                .position(|w| w.starts_with(['[', '<']) || w.chars().any(|c| c.is_uppercase()))
                .unwrap_or(words.len());
            let mut line = vec![name];
            line.extend_from_slice(&words[args..]);
            line.join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect();
    let mut out = String::new();
    for l in lines.join("\n\t").split_inclusive('>') {
        match l.rfind('<') {
            Some(i) => {
                out.push_str(&l[..i]);
                out.push_str(l[i + 1..].strip_suffix('>').unwrap_or(&l[i + 1..]));
            }
            None => out.push_str(l),
        }
    }
    // A list that already names its repetition ("[ARG...]"): no "..." after it.
    out.replace("...]...", "...]")
}

/// The (sub)command at `path` ("berth image ls").
fn find<'a>(root: &'a Command, path: &[String]) -> Option<&'a Command> {
    let mut cmd = root;
    for name in path.iter().skip(1) {
        cmd = cmd.find_subcommand(name)?;
    }
    Some(cmd)
}

/// How many arguments `cmd` takes: (at least, at most; None: no limit).
fn arity(cmd: &Command) -> (usize, Option<usize>) {
    let (mut min, mut max) = (0usize, Some(0usize));
    for a in cmd.get_positionals() {
        let many = a
            .get_num_args()
            .is_some_and(|r| r.max_values() > 1 || r.max_values() == usize::MAX);
        let vec = a.get_action().takes_values() && many;
        if a.is_required_set() {
            min += a.get_num_args().map_or(1, |r| r.min_values().max(1));
        }
        max = match max {
            Some(m) if !vec => Some(m + 1),
            _ => None,
        };
    }
    (min, max)
}

fn arguments(n: usize) -> String {
    format!("{n} argument{}", if n == 1 { "" } else { "s" })
}

/// docker's wording of a wrong number of arguments (cli/required.go).
fn count_message(name: &str, cmd: Option<&Command>) -> String {
    let (min, max) = cmd.map_or((0, None), arity);
    let what = match max {
        Some(0) => "accepts no arguments".to_owned(),
        Some(m) if m == min => format!("requires {}", arguments(m)),
        Some(m) if min == 0 => format!("accepts at most {}", arguments(m)),
        Some(m) => format!("requires at least {min} and at most {}", arguments(m)),
        None => format!("requires at least {}", arguments(min.max(1))),
    };
    format!("berth: '{name}' {what}")
}

/// A flag value the engine refused (`invalid argument "x" for "--memory" flag: ...`) in
/// docker's layout: the message, the usage of the command on the command line, and where
/// to read more. None for any other error.
pub fn flag_value_error(msg: &str) -> Option<String> {
    if !msg.starts_with("invalid argument ") || !msg.contains(" flag") || msg.contains('\n') {
        return None;
    }
    let mut root = Cli::command();
    root.build();
    let args: Vec<String> = std::env::args().collect();
    let path = path_from_args(&root, &args);
    let cmd = find(&root, &path)?;
    let name = path.join(" ");
    let line = docker_usage(
        cmd.clone()
            .render_usage()
            .to_string()
            .trim()
            .trim_start_matches("Usage:"),
        &name,
    );
    Some(format!(
        "{msg}\n\nUsage:  {line}\n\nRun '{name} --help' for more information\n"
    ))
}

/// The whole message, ending with a newline, for the command line of this process.
pub fn render(e: &clap::Error) -> String {
    let args: Vec<String> = std::env::args().collect();
    render_for(e, &args)
}

/// The whole message for the error `e` from parsing `args`.
fn render_for(e: &clap::Error, args: &[String]) -> String {
    let mut root = Cli::command();
    root.build();
    let (line, path) = usage(e, &root, args);
    let name = path.join(" ");
    let cmd = find(&root, &path);
    let invalid = string(e, ContextKind::InvalidArg).unwrap_or_default();
    let first = match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let sub = string(e, ContextKind::InvalidSubcommand).unwrap_or_default();
            format!("berth: unknown command: {name} {sub}")
        }
        ErrorKind::UnknownArgument if invalid.starts_with("--") => {
            format!(
                "unknown flag: {}",
                invalid.split('=').next().unwrap_or(&invalid)
            )
        }
        ErrorKind::UnknownArgument if invalid.starts_with('-') && invalid.len() > 1 => {
            let c = invalid.chars().nth(1).unwrap_or('-');
            format!("unknown shorthand flag: '{c}' in {invalid}")
        }
        ErrorKind::UnknownArgument
        | ErrorKind::MissingRequiredArgument
        | ErrorKind::TooFewValues
        | ErrorKind::TooManyValues
        | ErrorKind::WrongNumberOfValues
        | ErrorKind::MissingSubcommand => count_message(&name, cmd),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = string(e, ContextKind::InvalidValue).unwrap_or_default();
            let flag = invalid
                .split([' ', '='])
                .next()
                .unwrap_or(&invalid)
                .to_owned();
            let why = match (
                std::error::Error::source(e),
                string(e, ContextKind::ValidValue),
            ) {
                (Some(src), _) => format!(": {src}"),
                (None, Some(valid)) => format!(": valid values are {valid}"),
                (None, None) => String::new(),
            };
            format!("invalid argument {value:?} for {flag:?} flag{why}")
        }
        _ => {
            // clap's own sentence, without its "error: " and its layout.
            let text = e.render().to_string();
            let l = text.lines().next().unwrap_or("").trim();
            l.strip_prefix("error: ").unwrap_or(l).to_owned()
        }
    };
    // docker prints no usage for an unknown command of its own (only of a group's).
    if e.kind() == ErrorKind::InvalidSubcommand && path.len() == 1 {
        return format!("{first}\n\nRun '{name} --help' for more information\n");
    }
    format!("{first}\n\nUsage:  {line}\n\nRun '{name} --help' for more information\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn err(args: &[&str]) -> String {
        let mut argv = vec!["berth"];
        argv.extend_from_slice(args);
        let owned: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        match Cli::try_parse_from(argv) {
            Ok(_) => panic!("{args:?} parsed"),
            Err(e) => render_for(&e, &owned),
        }
    }

    #[test]
    fn command_path_from_the_arguments() {
        let mut root = Cli::command();
        root.build();
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            path_from_args(
                &root,
                &args(&["berth", "--root", "/r", "image", "ls", "-x"])
            ),
            ["berth", "image", "ls"]
        );
        assert_eq!(
            path_from_args(&root, &args(&["berth", "stop", "-t", "x", "c"])),
            ["berth", "stop"]
        );
        let stop = find(&root, &args(&["berth", "stop"])).unwrap();
        assert!(
            stop.clone()
                .render_usage()
                .to_string()
                .contains("berth stop [OPTIONS]")
        );
    }

    #[test]
    fn docker_wording() {
        let first = |a: &[&str]| err(a).lines().next().unwrap_or("").to_owned();
        assert_eq!(
            first(&["run"]),
            "berth: 'berth run' requires at least 1 argument"
        );
        assert_eq!(
            first(&["cp", "a"]),
            "berth: 'berth cp' requires 2 arguments"
        );
        assert_eq!(
            err(&["container", "cp", "a"]),
            "berth: 'berth container cp' requires 2 arguments\n\n\
             Usage:  berth container cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t\
             berth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\n\
             Run 'berth container cp --help' for more information\n"
        );
        assert_eq!(
            first(&["commit"]),
            "berth: 'berth commit' requires at least 1 and at most 2 arguments"
        );
        assert_eq!(
            first(&["ps", "a"]),
            "berth: 'berth ps' accepts no arguments"
        );
        assert_eq!(
            first(&["container", "ps", "a"]),
            "berth: 'berth container ps' accepts no arguments"
        );
        assert_eq!(first(&["bogus"]), "berth: unknown command: berth bogus");
        assert_eq!(
            err(&["bogus"]),
            "berth: unknown command: berth bogus\n\nRun 'berth --help' for more information\n"
        );
        assert_eq!(
            docker_usage(
                "berth run [OPTIONS] <IMAGE [COMMAND] [ARG...]>...",
                "berth run"
            ),
            "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"
        );
        assert_eq!(
            docker_usage(
                "berth exec [OPTIONS] <CONTAINER> <COMMAND [ARG...]>...",
                "berth exec"
            ),
            "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]"
        );
        assert_eq!(
            docker_usage("berth top <CONTAINER> [PS_ARGS]...", "berth container top"),
            "berth container top CONTAINER [PS_ARGS]..."
        );
        assert!(
            err(&["cp", "a"]).contains(
                "\n\nUsage:  berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\n"
            ),
            "{}",
            err(&["cp", "a"])
        );
        assert_eq!(
            first(&["image", "bogus"]),
            "berth: unknown command: berth image bogus"
        );
        assert_eq!(first(&["ps", "--bogus"]), "unknown flag: --bogus");
        assert_eq!(first(&["ps", "-z"]), "unknown shorthand flag: 'z' in -z");
        assert_eq!(first(&["ps", "--root", "/x"]), "unknown flag: --root");
        let full = err(&["ps", "--bogus"]);
        assert!(
            full.ends_with(
                "\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n"
            ),
            "{full}"
        );
        assert!(
            first(&["completion", "tcsh"])
                .starts_with("invalid argument \"tcsh\" for \"<SHELL>\" flag"),
            "{}",
            first(&["completion", "tcsh"])
        );
        assert!(!err(&["run"]).contains("error:"));
    }

    /// Every argument of every command says what it is (`berth COMMAND --help`).
    #[test]
    fn every_positional_argument_is_described() {
        fn walk(cmd: &Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_positionals() {
                if a.get_help().is_none() && !a.is_hide_set() {
                    missing.push(format!("{path} {}", a.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut root = Cli::command();
        root.build();
        let mut missing = Vec::new();
        walk(&root, "berth", &mut missing);
        assert!(missing.is_empty(), "no description: {missing:#?}");
    }
}
