//! runc-style logging: errors go to stderr and, with `--log`, to the log file as text or JSON
//! lines (`{"level":"error","msg":"...","time":"..."}`), which containerd and conmon read.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

pub struct Logger {
    file: Option<Mutex<File>>,
    json: bool,
    debug: bool,
}

impl Logger {
    pub fn new(path: Option<&Path>, format: &str, debug: bool) -> std::io::Result<Logger> {
        let file = match path {
            Some(p) => Some(Mutex::new(
                OpenOptions::new().create(true).append(true).open(p)?,
            )),
            None => None,
        };
        Ok(Logger {
            file,
            json: format == "json",
            debug,
        })
    }

    fn write(&self, level: &str, msg: &str) {
        let time = berth_runtime::util::rfc3339(std::time::SystemTime::now());
        let line = if self.json {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        } else {
            format!("time=\"{time}\" level={level} msg={msg:?}")
        };
        if let Some(f) = &self.file
            && let Ok(mut f) = f.lock()
        {
            let _ = writeln!(f, "{line}");
        }
    }

    pub fn error(&self, msg: &str) {
        self.write("error", msg);
        eprintln!("berth-runtime: {msg}");
    }

    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
        if self.file.is_none() {
            eprintln!("berth-runtime: warning: {msg}");
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
            if self.file.is_none() {
                eprintln!("berth-runtime: debug: {msg}");
            }
        }
    }
}
