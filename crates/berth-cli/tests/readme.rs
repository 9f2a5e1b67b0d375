//! The README's commands work when pasted in order after the quick start (issue 10: a new
//! user's first hour): every ```sh block after the quick start's own runs, in order, in one
//! shell, on a terminal (`script`), with the built binaries first on the PATH and nothing
//! left on the host: /tmp/ in the commands is a temporary directory, Berth's data root,
//! the runtime's state and podman's storage are in it too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The ```sh blocks of a markdown text, in order.
fn sh_blocks(md: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in md.lines() {
        match (&mut cur, line.trim_end()) {
            (None, "```sh") => cur = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(cur.is_none(), "README.md: a ```sh block is not closed");
    blocks
}

/// What the test runs of the README, and what it leaves to CI: the quick start (the
/// machine's set-up this test follows), `scripts/test` (which runs this test) and the
/// package installs (.ci/run installs those packages; the test needs them present).
fn script_of(readme: &str, tmp: &Path) -> String {
    let blocks = sh_blocks(readme);
    assert_eq!(
        blocks.first().map(|b| b.trim()),
        Some("./scripts/quickstart.sh"),
        "the README's first command is the quick start"
    );
    let mut script = String::from("set -eux\n");
    for block in &blocks[1..] {
        if block.trim() == "./scripts/test" {
            continue;
        }
        for line in block.lines() {
            if let Some(pkgs) = line.strip_prefix("apt-get install -y ") {
                for pkg in pkgs.split_whitespace() {
                    common::require(pkg, pkg);
                }
                continue;
            }
            script.push_str(&line.replace("/tmp/", &format!("{}/", tmp.display())));
            script.push('\n');
        }
    }
    script
}

/// Removes what the README's commands left when they failed halfway.
struct Cleanup {
    env: Vec<(String, PathBuf)>,
    path: std::ffi::OsString,
    dir: PathBuf,
    /// The throwaway network namespace the commands run in (the default bridge and its
    /// rules are made there, never on the real host); a field, so deleted last.
    netns: common::netns::Netns,
}

impl Cleanup {
    fn sh(&self, cmd: &str) {
        let _ = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns.0))
            .args(["sh", "-c", cmd])
            .env("PATH", &self.path)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.sh(
            "ids=$(berth ps -aq); [ -z \"$ids\" ] || berth rm -fv $ids; berth volume prune -af",
        );
        self.sh("for id in $(berth-runtime list -q); do berth-runtime delete --force $id; done");
        self.sh("podman rm -af; podman rmi -af");
        let root = self.dir.to_string_lossy().into_owned();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|m| m.starts_with(&root))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

/// This process's hard limit `name` (a line of /proc/self/limits).
fn hard_limit(name: &str) -> String {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{name} missing from /proc/self/limits"));
    let hard = line[name.len()..].split_whitespace().nth(1);
    hard.expect("a hard limit").to_owned()
}

#[test]
fn sh_blocks_in_order() {
    let md = "x\n```sh\na\nb\n```\n```json\n{}\n```\n```sh\nc\n```\n";
    assert_eq!(sh_blocks(md), ["a\nb\n", "c\n"]);
}

#[test]
#[ignore = "needs root"]
fn readme_commands_work_in_order() {
    assert!(
        common::is_root(),
        "needs root: run as root with --include-ignored"
    );
    common::require("script", "bsdutils");
    let repo = common::repo_root().canonicalize().expect("repo root");
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README.md");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_berth"));
    let bin_dir = bin.parent().expect("target dir").to_owned();
    common::monitor_bin();
    assert!(
        bin_dir.join("berth-runtime").exists(),
        "berth-runtime is missing: build the whole workspace (cargo build --workspace)"
    );
    let t = tempfile::Builder::new()
        .prefix("berth-readme")
        .tempdir()
        .expect("tempdir");
    let tmp = t.path().to_owned();
    let script = script_of(&readme, &tmp);
    std::fs::write(tmp.join("readme.sh"), &script).expect("write the script");
    // podman: its own storage and run files in the temporary directory.
    let podman = tmp.join("podman");
    std::fs::create_dir(&podman).expect("podman dir");
    std::fs::write(
        podman.join("storage.conf"),
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/run\"\n",
            podman.display()
        ),
    )
    .expect("storage.conf");
    // podman's default rlimits (nofile and nproc 1048576) are above the hard limits of a
    // test run in a container without CAP_SYS_RESOURCE: ask for this process's nofile, and
    // for nproc the 32768 that podman's processes get here (as tests/peers.rs does).
    std::fs::write(
        podman.join("containers.conf"),
        format!(
            "[containers]\ndefault_ulimits = [\"nofile={1}:{1}\", \"nproc=32768:32768\"]\n\
             [engine]\ntmp_dir = \"{0}/tmp\"\nvolume_path = \"{0}/volumes\"\n\
             events_logger = \"file\"\nevents_logfile_path = \"{0}/events.log\"\n",
            podman.display(),
            hard_limit("Max open files"),
        ),
    )
    .expect("containers.conf");
    let path = std::env::join_paths(
        std::iter::once(bin_dir.clone()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .expect("PATH");
    let env: Vec<(String, PathBuf)> = vec![
        ("BERTH_ROOT".into(), tmp.join("root")),
        ("BERTH_CONFIG".into(), tmp.join("berth.toml")),
        ("BERTH_AUTH_FILE".into(), tmp.join("auth.json")),
        ("BERTH_RUNTIME_ROOT".into(), tmp.join("runtime")),
        (
            "CONTAINERS_STORAGE_CONF".into(),
            podman.join("storage.conf"),
        ),
        ("CONTAINERS_CONF".into(), podman.join("containers.conf")),
    ];
    // A network namespace of the test's own as the host: containers get the default
    // bridge network there (`nsenter --net` changes nothing else).
    common::require("nsenter", "util-linux");
    let netns = common::netns::Netns::new(format!("berth-readme-{}", std::process::id()));
    let ns = netns.0.clone();
    let _cleanup = Cleanup {
        env: env.clone(),
        path: path.clone(),
        dir: tmp.clone(),
        netns,
    };
    // On a terminal, as pasted into one: `run -it` needs one.
    let run = format!("sh {}", tmp.join("readme.sh").display());
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{ns}"))
        .arg("script")
        .args(["-qec", &run, "/dev/null"])
        .current_dir(&repo)
        .env("PATH", &path)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(
        out.status.success(),
        "the README's commands failed:\n{text}\n{}\n--- script:\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "hello from busybox\n",
        "/dev/pts/0\nuid=0(root) gid=0(root)",
        "hello from berth-runtime\n",
        "hello from podman\n",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}
