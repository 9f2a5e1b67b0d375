//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2024-...Z"}`, rotated by size
//! (`<id>-json.log`, `.1`, `.2`, ... up to max-file files in all).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::config::LogConfig;
use crate::error::{Error, Result};

/// One log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Appends records to a container's log, rotating it.
pub struct Writer {
    path: PathBuf,
    file: File,
    size: u64,
    cfg: LogConfig,
    /// Unterminated output per stream (0 stdout, 1 stderr), written at the next newline.
    pending: [Vec<u8>; 2],
}

/// Above this, a line without a newline is written as a partial record, as Docker does.
const MAX_PARTIAL: usize = 16 * 1024;

impl Writer {
    /// Opens (appends to) the log at `path`.
    pub fn open(path: &Path, cfg: LogConfig) -> Result<Writer> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(format!("open log {}", path.display()), e))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Writer {
            path: path.to_path_buf(),
            file,
            size,
            cfg,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Records output of stream 0 (stdout) or 1 (stderr), line by line.
    pub fn write(&mut self, stream: usize, data: &[u8]) -> Result<()> {
        if self.cfg.disabled {
            return Ok(());
        }
        let stream = stream.min(1);
        let mut buf = std::mem::take(&mut self.pending[stream]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + pos + 1;
            self.record(stream, &buf[start..end])?;
            start = end;
        }
        if buf.len() - start >= MAX_PARTIAL {
            self.record(stream, &buf[start..])?;
            start = buf.len();
        }
        buf.drain(..start);
        self.pending[stream] = buf;
        Ok(())
    }

    /// Writes what is left without a newline (at exit).
    pub fn flush(&mut self) -> Result<()> {
        for stream in 0..2 {
            let buf = std::mem::take(&mut self.pending[stream]);
            if !buf.is_empty() {
                self.record(stream, &buf)?;
            }
        }
        Ok(())
    }

    fn record(&mut self, stream: usize, data: &[u8]) -> Result<()> {
        let rec = Record {
            log: String::from_utf8_lossy(data).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
            time: berth_runtime::util::rfc3339(SystemTime::now()),
        };
        let mut line = serde_json::to_vec(&rec)
            .map_err(|e| Error::Internal(format!("encode log record: {e}")))?;
        line.push(b'\n');
        if self.cfg.max_size > 0
            && self.size > 0
            && self.size + line.len() as u64 > self.cfg.max_size
        {
            self.rotate()?;
        }
        self.file
            .write_all(&line)
            .map_err(|e| Error::io(format!("write log {}", self.path.display()), e))?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        let keep = self.cfg.max_file.max(1);
        let name = |n: u32| rotated(&self.path, n);
        if keep == 1 {
            // Only the live file: start it over.
            self.file
                .set_len(0)
                .map_err(|e| Error::io(format!("truncate log {}", self.path.display()), e))?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(name(keep - 1));
        for n in (1..keep - 1).rev() {
            let _ = std::fs::rename(name(n), name(n + 1));
        }
        std::fs::rename(&self.path, name(1))
            .map_err(|e| Error::io(format!("rotate log {}", self.path.display()), e))?;
        self.file = OpenOptions::new()
            .mode(0o600)
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(format!("open log {}", self.path.display()), e))?;
        self.size = 0;
        Ok(())
    }
}

/// The name of rotated file `n` (`n` = 0 is the live file).
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Reads every record of a log, oldest first (rotated files included).
pub fn read_all(path: &Path) -> Result<Vec<Record>> {
    let mut files = Vec::new();
    for n in 0..100 {
        let p = rotated(path, n);
        if !p.exists() {
            if n > 0 {
                break;
            }
            continue;
        }
        files.push(p);
    }
    let mut out = Vec::new();
    for p in files.iter().rev() {
        out.extend(read_file(p, 0)?.0);
    }
    Ok(out)
}

/// Reads the records of one file from byte `offset`; returns them and the offset after the
/// last complete line (a half-written last line is left for the next read).
pub fn read_file(path: &Path, offset: u64) -> Result<(Vec<Record>, u64)> {
    read_json_lines(path, offset)
}

/// Reads a JSON-lines file from byte `offset`: the values of the complete lines (a corrupt
/// line, from a crash mid-write, is skipped) and the offset after the last complete line.
/// A missing file reads as empty; an offset past the end (the file was rotated under the
/// reader) starts over.
pub(crate) fn read_json_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
    offset: u64,
) -> Result<(Vec<T>, u64)> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], 0)),
        Err(e) => return Err(Error::io(format!("open {}", path.display()), e)),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let offset = if offset > len { 0 } else { offset };
    use std::io::Seek;
    let mut r = BufReader::new(f);
    r.seek(std::io::SeekFrom::Start(offset))
        .map_err(|e| Error::io(format!("seek {}", path.display()), e))?;
    let mut out = Vec::new();
    let mut pos = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        pos += n as u64;
        if let Ok(v) = serde_json::from_slice::<T>(&line) {
            out.push(v);
        }
    }
    Ok((out, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partial_output_and_rotation() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c-json.log");
        let mut w = Writer::open(
            &p,
            LogConfig {
                max_size: 200,
                max_file: 3,
                ..LogConfig::default()
            },
        )
        .unwrap();
        w.write(0, b"hello\nwor").unwrap();
        w.write(1, b"oops\n").unwrap();
        w.write(0, b"ld\n").unwrap();
        let recs = read_all(&p).unwrap();
        let texts: Vec<(&str, &str)> = recs
            .iter()
            .map(|r| (r.stream.as_str(), r.log.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("stdout", "hello\n"),
                ("stderr", "oops\n"),
                ("stdout", "world\n")
            ]
        );
        for i in 0..20 {
            w.write(0, format!("line {i}\n").as_bytes()).unwrap();
        }
        w.write(0, b"tail without newline").unwrap();
        w.flush().unwrap();
        assert!(rotated(&p, 1).exists() && rotated(&p, 2).exists());
        assert!(!rotated(&p, 3).exists(), "max-file 3 keeps three files");
        for n in 0..3 {
            assert!(std::fs::metadata(rotated(&p, n)).unwrap().len() <= 200);
        }
        let all = read_all(&p).unwrap();
        assert_eq!(all.last().unwrap().log, "tail without newline");
        // Rotation dropped the oldest lines, never reordered them.
        let nums: Vec<u32> = all
            .iter()
            .filter_map(|r| {
                r.log
                    .strip_prefix("line ")
                    .and_then(|v| v.trim().parse().ok())
            })
            .collect();
        assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
        assert_eq!(*nums.last().unwrap(), 19);
    }
}
