//! What the client side reads for `-e NAME` and `--env-file`/`--label-file`: the caller's
//! environment and files, as Docker's CLI does before it sends the values. Every other
//! value syntax is parsed by the engine (`berth_engine::config::parse`).

use anyhow::{Context, Result, bail};

/// `-e NAME=value` or `-e NAME` (the caller's value, dropped when unset).
pub fn env_entry(e: &str) -> Result<Option<String>> {
    if e.is_empty() || e.starts_with('=') {
        bail!("invalid environment variable: {e:?}");
    }
    if e.contains('=') {
        return Ok(Some(e.to_string()));
    }
    Ok(std::env::var(e).ok().map(|v| format!("{e}={v}")))
}

/// Lines of an --env-file (or --label-file): NAME=value, bare NAME, comments and blanks.
pub fn env_file(path: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("open {path}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.split('=')
            .next()
            .is_some_and(|k| k.chars().any(char::is_whitespace))
        {
            bail!(
                "{path}:{}: variable {:?} contains whitespaces",
                i + 1,
                l.split('=').next().unwrap_or("")
            );
        }
        if let Some(e) = env_entry(l)? {
            out.push(e);
        }
    }
    Ok(out)
}
