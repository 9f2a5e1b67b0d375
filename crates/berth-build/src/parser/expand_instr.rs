//! Expansion of an instruction's words with the stage's variables, in the instructions
//! where Docker expands them (ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER,
//! VOLUME, WORKDIR, ARG, and RUN's `--mount` values); RUN's, CMD's and ENTRYPOINT's
//! commands, HEALTHCHECK, SHELL and MAINTAINER stay as written, and an ONBUILD trigger is
//! expanded when it runs in the child image's build.
//!
//! The bodies of COPY/ADD heredocs whose name was not quoted are expanded too, quotes
//! kept (BuildKit's `ExpandRaw`); RUN's heredocs are left to the shell that runs them.

use super::error::{ErrorKind, ParseError};
use super::{Copy, Instruction, KeyValue, Kind, Source, Stage};
use crate::expand::{Lexer, Lookup};

impl Instruction {
    /// This instruction with its words expanded from `env` (the stage's ARG and ENV
    /// values); `file` names the Dockerfile in errors, `escape` is its escape character.
    pub fn expand<L: Lookup + ?Sized>(
        &self,
        file: &str,
        escape: char,
        env: &L,
    ) -> Result<Instruction, ParseError> {
        let lexer = Lexer::new(escape);
        let raw = Lexer::new(escape).skip_quotes(true);
        let err = |kind: ErrorKind| ParseError {
            file: file.to_string(),
            line: self.location.line,
            column: self.location.column,
            kind,
        };
        let w = |s: &str| lexer.word(s, env).map_err(|e| err(ErrorKind::Expand(e)));
        let opt = |s: &Option<String>| s.as_deref().map(w).transpose();
        let all = |v: &[String]| v.iter().map(|s| w(s)).collect::<Result<Vec<_>, _>>();
        let pairs = |v: &[KeyValue]| {
            v.iter()
                .map(|kv| {
                    Ok(KeyValue {
                        key: w(&kv.key)?,
                        value: w(&kv.value)?,
                    })
                })
                .collect::<Result<Vec<_>, ParseError>>()
        };
        let copy = |c: &Copy| -> Result<Copy, ParseError> {
            let sources = c
                .sources
                .iter()
                .map(|s| match s {
                    Source::Path(p) => w(p).map(Source::Path),
                    Source::Heredoc(h) if h.expand => {
                        let content = raw
                            .word(&h.content, env)
                            .map_err(|e| err(ErrorKind::Expand(e)))?;
                        Ok(Source::Heredoc(super::Heredoc {
                            content,
                            ..h.clone()
                        }))
                    }
                    Source::Heredoc(h) => Ok(Source::Heredoc(h.clone())),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Copy {
                from: opt(&c.from)?,
                chown: opt(&c.chown)?,
                chmod: opt(&c.chmod)?,
                excludes: all(&c.excludes)?,
                checksum: opt(&c.checksum)?,
                sources,
                dest: w(&c.dest)?,
                ..c.clone()
            })
        };
        let kind = match &self.kind {
            Kind::Run(r) => {
                let mut r = r.clone();
                for f in r.flags.iter_mut().filter(|f| f.name == "mount") {
                    f.value = w(&f.value)?;
                }
                Kind::Run(r)
            }
            Kind::Copy(c) => Kind::Copy(copy(c)?),
            Kind::Add(c) => Kind::Add(copy(c)?),
            Kind::Env(v) => Kind::Env(pairs(v)?),
            Kind::Label(v) => Kind::Label(pairs(v)?),
            Kind::Arg(v) => Kind::Arg(
                v.iter()
                    .map(|a| {
                        Ok(super::ArgDef {
                            name: w(&a.name)?,
                            default: opt(&a.default)?,
                        })
                    })
                    .collect::<Result<Vec<_>, ParseError>>()?,
            ),
            Kind::Expose(v) => Kind::Expose(all(v)?),
            Kind::User(s) => Kind::User(w(s)?),
            Kind::Workdir(s) => Kind::Workdir(w(s)?),
            Kind::StopSignal(s) => Kind::StopSignal(w(s)?),
            Kind::Volume(v) => {
                let v = all(v)?;
                if v.iter().any(String::is_empty) {
                    return Err(err(ErrorKind::EmptyVolume));
                }
                Kind::Volume(v)
            }
            k => k.clone(),
        };
        Ok(Instruction {
            location: self.location,
            original: self.original.clone(),
            kind,
        })
    }
}

impl Stage {
    /// The base image and platform expanded from the meta ARGs (those before the first
    /// FROM), as BuildKit does.
    pub fn expand_base<L: Lookup + ?Sized>(
        &self,
        file: &str,
        escape: char,
        meta: &L,
    ) -> Result<(String, Option<String>), ParseError> {
        let lexer = Lexer::new(escape);
        let err = |e| ParseError {
            file: file.to_string(),
            line: self.location.line,
            column: self.location.column,
            kind: ErrorKind::Expand(e),
        };
        let image = lexer.word(&self.image, meta).map_err(err)?;
        let platform = self
            .platform
            .as_deref()
            .map(|p| lexer.word(p, meta).map_err(err))
            .transpose()?;
        Ok((image, platform))
    }
}
