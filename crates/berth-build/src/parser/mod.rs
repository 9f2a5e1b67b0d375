//! The Dockerfile parser: text in, typed and located instructions out, grouped into
//! stages. Pure (no I/O) and safe on hostile input: the text's size and the number of
//! instructions are bounded, nothing recurses on input except ONBUILD's one level, and
//! every error is a [`ParseError`] naming the file, line and column.
//!
//! Words are kept as written (quotes and `$VAR` included) where Docker expands them
//! later with the stage's ARG and ENV state: the builder calls [`Instruction::expand`]
//! (or [`crate::Lexer`] directly) when it reaches the instruction.

pub mod args;
mod duration;
mod error;
mod expand_instr;
mod flags;
mod instruction;
mod lines;
mod words;

use std::time::Duration;

pub use error::{ErrorKind, ParseError};

/// Largest Dockerfile accepted (bytes).
pub const MAX_SIZE: usize = 16 << 20;
/// Most instructions accepted.
pub const MAX_INSTRUCTIONS: usize = 100_000;

/// Where an instruction is: its first line and column (1-based) and its last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
}

/// The parser directives at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=...` (the frontend image; Berth reads it but builds with its own parser).
    pub syntax: Option<String>,
    /// `# escape=` (`\` or `` ` ``).
    pub escape: char,
    /// `# check=...` (BuildKit's build checks), kept as written.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    /// The ARG instructions before the first FROM (their variables may be used in FROM).
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
}

/// `FROM [--platform=P] image [AS name]` and the instructions after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub location: Location,
    /// The FROM line as written.
    pub original: String,
    /// The base: an image reference, `scratch` or an earlier stage's name (unexpanded).
    pub image: String,
    /// The stage's name, lower-cased (as BuildKit).
    pub name: Option<String>,
    pub platform: Option<String>,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// Which earlier stage this one builds on, if its base names one (after expansion, the
    /// builder checks again with the expanded name).
    pub fn base_stage(&self, earlier: &[Stage]) -> Option<usize> {
        let base = self.image.to_ascii_lowercase();
        earlier
            .iter()
            .position(|s| s.name.as_deref() == Some(base.as_str()))
    }
}

/// One instruction with where it is and how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub location: Location,
    /// The logical line (continuations joined), trimmed.
    pub original: String,
    pub kind: Kind,
}

/// The instructions of the Dockerfile reference (FROM starts a [`Stage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Run(Run),
    Cmd(Form),
    Entrypoint(Form),
    Copy(Copy),
    Add(Copy),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDef>),
    Label(Vec<KeyValue>),
    Expose(Vec<String>),
    User(String),
    Workdir(String),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    /// SHELL: JSON form only.
    Shell(Vec<String>),
    /// The trigger, parsed (never FROM, MAINTAINER or ONBUILD).
    Onbuild(Box<Instruction>),
    Maintainer(String),
}

impl Kind {
    /// The instruction's keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Kind::Run(_) => "RUN",
            Kind::Cmd(_) => "CMD",
            Kind::Entrypoint(_) => "ENTRYPOINT",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::Env(_) => "ENV",
            Kind::Arg(_) => "ARG",
            Kind::Label(_) => "LABEL",
            Kind::Expose(_) => "EXPOSE",
            Kind::User(_) => "USER",
            Kind::Workdir(_) => "WORKDIR",
            Kind::Volume(_) => "VOLUME",
            Kind::StopSignal(_) => "STOPSIGNAL",
            Kind::Healthcheck(_) => "HEALTHCHECK",
            Kind::Shell(_) => "SHELL",
            Kind::Onbuild(_) => "ONBUILD",
            Kind::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// A command as RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// Run by the stage's SHELL (`/bin/sh -c` by default): the text as written.
    Shell(String),
    /// The JSON (exec) form; an empty list for `CMD` or `ENTRYPOINT` with nothing after
    /// (Docker 20.10's builder records a bare CMD as `["/bin/sh", "-c"]` and a bare
    /// ENTRYPOINT as null).
    Exec(Vec<String>),
}

/// A flag of RUN (`--mount=type=cache,target=/x`, `--network=none`, `--security=insecure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: String,
}

/// `RUN [flags] command`, with the heredocs its line opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub flags: Vec<Flag>,
    pub command: Form,
    pub heredocs: Vec<Heredoc>,
}

impl Run {
    /// Each `--mount` value, in order.
    pub fn mounts(&self) -> impl Iterator<Item = &str> {
        self.flags
            .iter()
            .filter(|f| f.name == "mount")
            .map(|f| f.value.as_str())
    }
    /// `--network`, if given.
    pub fn network(&self) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.name == "network")
            .map(|f| f.value.as_str())
    }
    /// `--security`, if given.
    pub fn security(&self) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.name == "security")
            .map(|f| f.value.as_str())
    }
}

/// A here-document: `<<NAME` on the instruction line, the lines up to `NAME` its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The body, each line ending in `\n` (leading tabs removed for `<<-`).
    pub content: String,
    /// False when the name was quoted (`<<"EOF"`, `<<'EOF'`): no expansion of the body.
    pub expand: bool,
    /// `<<-`: leading tabs stripped.
    pub chomp: bool,
}

/// A source of COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A path (glob patterns kept as written) or, for ADD, a URL or git reference.
    Path(String),
    /// `<<EOF`: a file whose content is the heredoc's body, named after it.
    Heredoc(Heredoc),
}

/// COPY and ADD (each accepts only its own flags: `--from` and `--parents` are COPY's,
/// `--checksum` and `--keep-git-dir` ADD's).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub excludes: Vec<String>,
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
    pub sources: Vec<Source>,
    pub dest: String,
    /// Written in the JSON form (`COPY ["a b", "/c"]`).
    pub json: bool,
}

/// `NAME=value` of ENV and LABEL, as written (quotes kept, expanded later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// `ARG NAME[=default]`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDef {
    pub name: String,
    pub default: Option<String>,
}

/// HEALTHCHECK, in the Docker image config's terms: `test` is `["NONE"]`,
/// `["CMD", args...]` or `["CMD-SHELL", command]`; durations not given (or zero) are
/// `None` (the default applies).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

/// Parse a Dockerfile read as bytes; invalid UTF-8 is read as U+FFFD (BuildKit reads
/// bytes too, and such bytes are never valid in the words that matter).
pub fn parse_bytes(file: &str, data: &[u8]) -> Result<Dockerfile, ParseError> {
    if data.len() > MAX_SIZE {
        return Err(too_large(file, data.len()));
    }
    parse(file, &String::from_utf8_lossy(data))
}

fn too_large(file: &str, size: usize) -> ParseError {
    ParseError {
        file: file.to_string(),
        line: 1,
        column: 1,
        kind: ErrorKind::TooLarge {
            size,
            limit: MAX_SIZE,
        },
    }
}

/// Parse a Dockerfile; `file` names it in errors (`Dockerfile:3:1: ...`).
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
    if text.len() > MAX_SIZE {
        return Err(too_large(file, text.len()));
    }
    let err = |line: usize, column: usize, kind: ErrorKind| ParseError {
        file: file.to_string(),
        line,
        column,
        kind,
    };
    let (directives, raw) =
        lines::logical_lines(text, MAX_INSTRUCTIONS).map_err(|(l, c, k)| err(l, c, k))?;
    if raw.is_empty() {
        return Err(err(1, 1, ErrorKind::Empty));
    }
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for line in raw {
        let location = Location {
            line: line.line,
            column: line.column,
            end_line: line.end_line,
        };
        let parsed = instruction::parse_line(&line, directives.escape, location)
            .map_err(|(column, k)| err(line.line, column, k))?;
        match parsed {
            instruction::Parsed::From(stage) => {
                if let Some(name) = &stage.name
                    && stages.iter().any(|s| s.name.as_ref() == Some(name))
                {
                    return Err(err(
                        line.line,
                        line.column,
                        ErrorKind::DuplicateStage(name.clone()),
                    ));
                }
                stages.push(stage);
            }
            instruction::Parsed::Instruction(i) => match stages.last_mut() {
                Some(stage) => stage.instructions.push(i),
                None if matches!(i.kind, Kind::Arg(_)) => meta_args.push(i),
                None => return Err(err(line.line, line.column, ErrorKind::NoStage)),
            },
        }
    }
    if stages.is_empty() {
        return Err(err(1, 1, ErrorKind::NoStages));
    }
    Ok(Dockerfile {
        directives,
        meta_args,
        stages,
    })
}

#[cfg(test)]
mod tests;
