//! Shared test helpers: raw tar construction (including hostile entries the `tar` crate's
//! builder would refuse) and the busybox test rootfs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds tars entry by entry with raw names, so tests can craft hostile layers.
pub struct RawTar {
    b: tar::Builder<Vec<u8>>,
}

impl Default for RawTar {
    fn default() -> Self {
        Self::new()
    }
}

impl RawTar {
    pub fn new() -> Self {
        RawTar {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(
        kind: tar::EntryType,
        path: &[u8],
        link: Option<&[u8]>,
        size: u64,
        mode: u32,
    ) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_000_000_000);
        {
            let old = h.as_old_mut();
            old.name = [0; 100];
            old.name[..path.len()].copy_from_slice(path);
            if let Some(l) = link {
                old.linkname = [0; 100];
                old.linkname[..l.len()].copy_from_slice(l);
            }
        }
        h.set_cksum();
        h
    }

    pub fn file(mut self, path: &str, data: &[u8]) -> Self {
        let h = Self::header(
            tar::EntryType::Regular,
            path.as_bytes(),
            None,
            data.len() as u64,
            0o644,
        );
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn file_with(
        mut self,
        path: &str,
        data: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
    ) -> Self {
        let mut h = Self::header(
            tar::EntryType::Regular,
            path.as_bytes(),
            None,
            data.len() as u64,
            mode,
        );
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(mtime);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        let h = Self::header(tar::EntryType::Directory, path.as_bytes(), None, 0, 0o755);
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let h = Self::header(
            tar::EntryType::Symlink,
            path.as_bytes(),
            Some(target.as_bytes()),
            0,
            0o777,
        );
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let h = Self::header(
            tar::EntryType::Link,
            path.as_bytes(),
            Some(target.as_bytes()),
            0,
            0o644,
        );
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn device(mut self, path: &str, kind: tar::EntryType, major: u32, minor: u32) -> Self {
        let mut h = Self::header(kind, path.as_bytes(), None, 0, 0o600);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    /// A file carrying PAX xattr records.
    pub fn file_xattr(mut self, path: &str, data: &[u8], xattrs: &[(&str, &[u8])]) -> Self {
        let recs: Vec<(String, &[u8])> = xattrs
            .iter()
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
            .collect();
        self.b
            .append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), *v)))
            .unwrap();
        self.file(path, data)
    }

    /// Append raw bytes (for header-desync tricks).
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        use std::io::Write;
        self.b.get_mut().write_all(bytes).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Skip (return true) with a printed reason unless running as root.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("skipping {test}: needs root");
    true
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Build the busybox rootfs tar (see scripts/mk-busybox-tar.sh) into `dir`; None (with a
/// printed reason) when busybox-static is missing.
pub fn busybox_rootfs_tar(dir: &Path) -> Option<PathBuf> {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("skipping: /bin/busybox missing (apt-get install busybox-static)");
        return None;
    }
    let out = dir.join("busybox-rootfs.tar");
    let st = Command::new("sh")
        .arg(repo_root().join("scripts/mk-busybox-tar.sh"))
        .arg(&out)
        .status()
        .expect("run mk-busybox-tar.sh");
    assert!(st.success(), "mk-busybox-tar.sh failed");
    Some(out)
}

/// Names in a directory, sorted (to check nothing appeared outside a layer).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A classic docker-archive (`<n>/layer.tar`, `<cfg>.json`, manifest.json) of these
/// uncompressed layer tars, tagged `tag`.
pub fn docker_archive(layers: &[Vec<u8>], tag: &str) -> Vec<u8> {
    use sha2::Digest as _;
    let sha = |b: &[u8]| format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)));
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    let history: Vec<serde_json::Value> = layers
        .iter()
        .enumerate()
        .map(|(i, _)| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": format!("layer {i}")}))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap();
    let cfg_name = format!("{}.json", &sha(&config)[7..]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, data).unwrap();
    };
    let mut paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let p = format!("{i:03}/layer.tar");
        add(&p, l);
        paths.push(p);
    }
    add(&cfg_name, &config);
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": cfg_name, "RepoTags": [tag], "Layers": paths,
    }]))
    .unwrap();
    add("manifest.json", &manifest);
    b.into_inner().unwrap()
}
