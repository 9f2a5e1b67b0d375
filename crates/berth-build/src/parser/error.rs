//! Parse errors: one line naming the file, line and column, then what is wrong (BuildKit's
//! words where it has them).

use thiserror::Error;

use crate::expand::ExpandError;

/// A Dockerfile that cannot be parsed (or an instruction whose words cannot be expanded).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}:{column}: {kind}")]
pub struct ParseError {
    /// The name the caller gave the Dockerfile (`Dockerfile`, `build/Dockerfile.dev`...).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    pub kind: ErrorKind,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ErrorKind {
    #[error("dockerfile is {size} bytes, more than the {limit} accepted")]
    TooLarge { size: usize, limit: usize },
    #[error("dockerfile has more than {0} instructions")]
    TooManyInstructions(usize),
    #[error("file with no instructions")]
    Empty,
    #[error("dockerfile contains no stages to build")]
    NoStages,
    #[error("unknown instruction: {word}{}", suggestion(.suggest))]
    UnknownInstruction {
        word: String,
        suggest: Option<&'static str>,
    },
    #[error("no build stage in current context")]
    NoStage,
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    #[error("invalid escape '{0}': must be ` or \\")]
    BadEscape(String),
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    #[error("{0} cannot accept a heredoc as {1}")]
    BadHeredoc(&'static str, &'static str),
    #[error("{0} requires at least one argument")]
    AtLeastOne(&'static str),
    #[error("{0} requires exactly one argument")]
    ExactlyOne(&'static str),
    #[error(
        "{0} requires at least two arguments, but only one was provided. Destination could not be determined"
    )]
    NoDestination(&'static str),
    #[error("FROM requires either one or three arguments")]
    FromArguments,
    #[error(
        "invalid name for build stage: {0:?}, name can't start with a number or contain symbols"
    )]
    BadStageName(String),
    #[error("duplicate stage name {0:?}")]
    DuplicateStage(String),
    #[error("{0} must have two arguments")]
    TwoArguments(&'static str),
    #[error("Syntax error - can't find = in {0:?}. Must be of the form: name=value")]
    MissingEquals(String),
    #[error("{0} names can not be blank")]
    BlankName(&'static str),
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    #[error("{0} requires the arguments to be in JSON form")]
    NotJson(&'static str),
    #[error("arg should start with -- : {0}")]
    FlagNotDashed(String),
    #[error("unknown flag: {0}")]
    UnknownFlag(String),
    #[error("duplicate flag specified: {0}")]
    DuplicateFlag(String),
    #[error("missing a value on flag: {0}")]
    MissingFlagValue(String),
    #[error("expecting boolean value for flag {0}, not: {1}")]
    NotBool(String, String),
    #[error("invalid value {value:?} for --{flag}: {reason}")]
    BadFlagValue {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthNoneArgs,
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthNoCommand,
    #[error("Unknown type {0:?} in HEALTHCHECK (try CMD)")]
    HealthType(String),
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain,
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    #[error("{0}")]
    Expand(#[from] ExpandError),
}

fn suggestion(s: &Option<&'static str>) -> String {
    s.map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}
