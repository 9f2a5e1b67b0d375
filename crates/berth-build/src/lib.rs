//! Dockerfiles: the parser (pure, fuzzable) and Docker's word expansion. The builder, which
//! runs a parsed Dockerfile through berth-engine, comes in a later slice as `builder`.

pub mod expand;
pub mod parser;

pub use expand::{ExpandError, ExpandErrorKind, Lexer, Lookup};
pub use parser::{
    ArgDef, Copy, Directives, Dockerfile, ErrorKind, Flag, Form, Healthcheck, Heredoc, Instruction,
    KeyValue, Kind, Location, ParseError, Run, Source, Stage, parse, parse_bytes,
};
