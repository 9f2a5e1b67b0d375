//! Instruction flags (`--from=build`, `--link`, `--mount=...`) checked as BuildKit's
//! `BFlags` does: known names only, a value where one is needed, no repeats except for
//! the flags that may repeat.

use super::error::ErrorKind;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagType {
    Bool,
    String,
    /// May repeat (`--mount`, `--exclude`).
    Strings,
}

/// The flags given, in order, each with its value (`"true"`/`"false"` for booleans).
#[derive(Default)]
pub(crate) struct Parsed {
    pub values: Vec<(&'static str, String)>,
}

impl Parsed {
    pub fn string(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
    pub fn bool(&self, name: &str) -> bool {
        self.values.iter().any(|(n, v)| *n == name && v == "true")
    }
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

pub(crate) fn parse(
    args: &[String],
    known: &[(&'static str, FlagType)],
) -> Result<Parsed, ErrorKind> {
    let mut out = Parsed::default();
    for arg in args {
        let Some(body) = arg.strip_prefix("--") else {
            return Err(ErrorKind::FlagNotDashed(arg.clone()));
        };
        if body.is_empty() {
            break;
        }
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(&(known_name, ty)) = known.iter().find(|(k, _)| *k == name) else {
            return Err(ErrorKind::UnknownFlag(name.to_string()));
        };
        if ty != FlagType::Strings && out.values.iter().any(|(n, _)| *n == known_name) {
            return Err(ErrorKind::DuplicateFlag(name.to_string()));
        }
        let value = match (ty, value) {
            (FlagType::Bool, None) => "true".to_string(),
            (FlagType::Bool, Some("")) | (_, None) => {
                return Err(ErrorKind::MissingFlagValue(name.to_string()));
            }
            (FlagType::Bool, Some(v)) => {
                let lower = v.to_ascii_lowercase();
                if lower != "true" && lower != "false" {
                    return Err(ErrorKind::NotBool(name.to_string(), v.to_string()));
                }
                lower
            }
            (_, Some(v)) => v.to_string(),
        };
        out.values.push((known_name, value));
    }
    Ok(out)
}
