//! The differential test: the same command lines against Berth and against a dockerd started
//! here (its own socket, data and exec roots, no iptables), each side (with its registry) in
//! a throwaway network namespace of its own; no default bridge on either side, except for
//! `*.bridge.cases`, compared by exit code,
//! normalised stdout, whether stderr says something (and what it means, where a case says),
//! and inspect JSON. The cases are in `tests/differential/*.cases` (syntax in the README
//! there); the report (how many command lines, how many agree, the deliberate differences)
//! is written to `target/tmp/differential-report.txt`, which `scripts/test` prints.
//!
//! `BERTH_DIFF_FILES=a,b` runs only the case files whose names contain one of those words.

#[path = "differential/cases.rs"]
mod cases;
mod common;
#[path = "differential/normalize.rs"]
mod normalize;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cases::{Case, Kind};
use common::Berth;
use common::dockerd::Dockerd;
use common::netns::Netns;
use regex::Regex;

/// What one side did.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `c` with `stdin`, killed after a minute (a hung command fails its case, not the run).
fn run(mut c: Command, stdin: Option<&str>) -> Out {
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
        let input = input.to_owned();
        std::thread::spawn(move || {
            let _ = w.write_all(input.as_bytes());
        });
    }
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    let mut stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    let code = match status {
        Some(st) => st.code().unwrap_or(-1),
        None => {
            stderr.push_str("\n(killed after 60 s)");
            -2
        }
    };
    Out {
        code,
        stdout,
        stderr,
    }
}

struct Sides {
    berth: Berth,
    docker: Dockerd,
    /// Each side's own host directory, `{tmp}` in a case (inside the test's temp dir).
    berth_tmp: std::path::PathBuf,
    docker_tmp: std::path::PathBuf,
    /// Each side's own registry (Debian's docker-registry on 127.0.0.1), `{registry}` in a
    /// case; and each side's own credentials file, so that `login` never touches the
    /// host's.
    berth_registry: common::registry::Registry,
    docker_registry: common::registry::Registry,
    berth_auth: std::path::PathBuf,
    docker_config: std::path::PathBuf,
}

/// Runs `c` with `args`, `{tmp}` and `{registry}` standing for `tmp` and `registry` in them
/// and in what it prints.
fn run_in(mut c: Command, args: &[String], tmp: &Path, registry: &str, stdin: Option<&str>) -> Out {
    let tmp = tmp.to_string_lossy();
    c.args(
        args.iter()
            .map(|a| a.replace("{tmp}", &tmp).replace("{registry}", registry)),
    );
    let mut o = run(c, stdin);
    for (real, name) in [(&*tmp, "{tmp}"), (registry, "{registry}")] {
        o.stdout = o.stdout.replace(real, name);
        o.stderr = o.stderr.replace(real, name);
    }
    o
}

impl Sides {
    fn berth(&self, args: &[String], stdin: Option<&str>) -> Out {
        let mut c = self.berth.cmd();
        c.env("BERTH_AUTH_FILE", &self.berth_auth);
        let reg = self.berth_registry.host();
        run_in(c, args, &self.berth_tmp, &reg, stdin)
    }

    fn docker(&self, args: &[String], stdin: Option<&str>) -> Out {
        let mut c = self.docker.docker();
        c.env("DOCKER_CONFIG", &self.docker_config);
        let reg = self.docker_registry.host();
        run_in(c, args, &self.docker_tmp, &reg, stdin)
    }

    /// Both stores back to busybox alone: no containers, volumes or other images.
    fn clean(&self) {
        for side in [Side::Berth, Side::Docker] {
            let go = |a: &[&str]| {
                let args: Vec<String> = a.iter().map(|s| s.to_string()).collect();
                match side {
                    Side::Berth => self.berth(&args, None),
                    Side::Docker => self.docker(&args, None),
                }
            };
            let words =
                |o: Out| -> Vec<String> { o.stdout.split_whitespace().map(String::from).collect() };
            let ids = words(go(&["ps", "-aq", "--no-trunc"]));
            if !ids.is_empty() {
                let mut a = vec!["rm", "-f", "-v"];
                a.extend(ids.iter().map(String::as_str));
                go(&a);
            }
            let vols = words(go(&["volume", "ls", "-q"]));
            if !vols.is_empty() {
                let mut a = vec!["volume", "rm", "-f"];
                a.extend(vols.iter().map(String::as_str));
                go(&a);
            }
            let keep = words(go(&["images", "-q", "--no-trunc", "busybox:latest"]));
            let mut imgs = words(go(&["images", "-aq", "--no-trunc"]));
            imgs.retain(|i| !keep.contains(i));
            imgs.dedup();
            if !imgs.is_empty() {
                let mut a = vec!["rmi", "-f"];
                a.extend(imgs.iter().map(String::as_str));
                go(&a);
            }
            // Tags other than busybox:latest on the kept image.
            let tags = words(go(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
            for t in tags.iter().filter(|t| *t != "busybox:latest") {
                go(&["rmi", t]);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Berth,
    Docker,
}

/// How a case came out.
enum Verdict {
    Agree,
    Deliberate(String),
    Disagree(String),
}

fn show(o: &Out) -> String {
    format!(
        "exit {}\n    stdout: {:?}\n    stderr: {:?}",
        o.code, o.stdout, o.stderr
    )
}

/// Compares what both sides did, as the case asks.
fn compare(case: &Case, b: &Out, d: &Out) -> Result<(), String> {
    if b.code != d.code {
        return Err(format!(
            "exit codes differ: berth {}, docker {}",
            b.code, d.code
        ));
    }
    if let Some(re) = &case.err {
        let re = Regex::new(re).map_err(|e| format!("bad err: regex: {e}"))?;
        for (who, o) in [("berth", b), ("docker", d)] {
            if !re.is_match(&o.stderr) {
                return Err(format!("{who}'s stderr does not match /{re}/"));
            }
        }
    }
    match case.kind {
        Kind::Code => Ok(()),
        Kind::Full => {
            let (bo, dout) = (normalize::text(&b.stdout), normalize::text(&d.stdout));
            if bo != dout {
                return Err(format!(
                    "stdout differs:\n    berth:  {bo:?}\n    docker: {dout:?}"
                ));
            }
            if b.stderr.trim().is_empty() != d.stderr.trim().is_empty() {
                return Err("one side wrote to stderr, the other did not".into());
            }
            Ok(())
        }
        Kind::Json => {
            if b.code != 0 {
                return Ok(());
            }
            let parse = |who: &str, s: &str| {
                serde_json::from_str::<serde_json::Value>(s)
                    .map_err(|e| format!("{who}'s stdout is not JSON: {e}"))
            };
            let diffs = normalize::json_diff(
                &parse("berth", &b.stdout)?,
                &parse("docker", &d.stdout)?,
                normalize::Keys {
                    ignore: &case.ignore,
                    unordered: &case.unordered,
                },
            );
            if diffs.is_empty() {
                Ok(())
            } else {
                Err(format!("JSON differs:\n    {}", diffs.join("\n    ")))
            }
        }
        Kind::Setup | Kind::BerthOnly | Kind::DockerOnly => Ok(()),
    }
}

fn judge(sides: &Sides, case: &Case) -> Verdict {
    let stdin = case.stdin.as_deref();
    match case.kind {
        Kind::BerthOnly | Kind::DockerOnly => {
            let o = if case.kind == Kind::BerthOnly {
                sides.berth(&case.args, stdin)
            } else {
                sides.docker(&case.args, stdin)
            };
            return if o.code == 0 {
                Verdict::Agree
            } else {
                Verdict::Disagree(format!("failed: {}", show(&o)))
            };
        }
        _ => {}
    }
    let b = sides.berth(&case.args, stdin);
    let d = sides.docker(&case.args, stdin);
    if case.kind == Kind::Setup {
        return if b.code == 0 && d.code == 0 {
            Verdict::Agree
        } else {
            Verdict::Disagree(format!(
                "setup failed:\n  berth {}\n  docker {}",
                show(&b),
                show(&d)
            ))
        };
    }
    let res = compare(case, &b, &d);
    match (&case.differs, res) {
        (None, Ok(())) => Verdict::Agree,
        (None, Err(why)) => Verdict::Disagree(format!(
            "{why}\n  berth {}\n  docker {}",
            show(&b),
            show(&d)
        )),
        (Some(_), Ok(())) => {
            Verdict::Disagree("marked `differs:` but agrees now: drop the mark".to_owned())
        }
        (Some(reason), Err(_)) => match &case.berth {
            Some(re) => match Regex::new(re) {
                Ok(re) if re.is_match(&b.stdout) => Verdict::Deliberate(reason.clone()),
                Ok(re) => Verdict::Disagree(format!(
                    "berth's stdout does not match /{re}/\n  berth {}",
                    show(&b)
                )),
                Err(e) => Verdict::Disagree(format!("bad berth: regex: {e}")),
            },
            None => Verdict::Deliberate(reason.clone()),
        },
    }
}

/// Both sides under `dir`, with busybox imported, each in network namespace of its own
/// (`ns.0` Berth's, `ns.1` dockerd's, where each side's registry listens too), with their
/// default bridge networks on or off.
fn make_sides(dir: &Path, tar: &Path, ns: (&str, &str), bridge: bool) -> Sides {
    let berth = Berth::in_netns(&dir.join("berth"), ns.0, bridge);
    let ddir = dir.join("docker");
    std::fs::create_dir_all(&ddir).unwrap();
    let docker = Dockerd::start_in(&ddir, Some(ns.1), bridge).expect("dockerd starts");
    let registry = |name: &str, netns: &str| {
        let rdir = dir.join(name);
        std::fs::create_dir(&rdir).unwrap();
        common::registry::Registry::start_in(&rdir, Some(netns)).expect("docker-registry starts")
    };
    let sides = Sides {
        berth,
        docker,
        berth_tmp: dir.join("berth-tmp"),
        docker_tmp: dir.join("docker-tmp"),
        berth_registry: registry("berth-registry", ns.0),
        docker_registry: registry("docker-registry", ns.1),
        berth_auth: dir.join("berth-auth.json"),
        docker_config: dir.join("docker-config"),
    };
    let import: Vec<String> = ["import", "-c", "CMD [\"sh\"]"]
        .iter()
        .map(|s| s.to_string())
        .chain([tar.to_string_lossy().into_owned(), "busybox:latest".into()])
        .collect();
    for o in [sides.berth(&import, None), sides.docker(&import, None)] {
        assert_eq!(o.code, 0, "import busybox: {}", show(&o));
    }
    sides
}

/// What the case files gave.
#[derive(Default)]
struct Tally {
    lines: usize,
    agree: usize,
    deliberate: Vec<String>,
    disagree: Vec<String>,
}

/// Runs every case of `files` on `sides`.
fn run_files(sides: &Sides, files: &[std::path::PathBuf], tally: &mut Tally) {
    for f in files {
        let groups = cases::parse(f).unwrap_or_else(|e| panic!("{e}"));
        for g in groups {
            sides.clean();
            // Each group starts with empty `{tmp}` directories.
            for d in [&sides.berth_tmp, &sides.docker_tmp] {
                let _ = std::fs::remove_dir_all(d);
                std::fs::create_dir_all(d).unwrap();
            }
            for case in &g.cases {
                tally.lines += 1;
                let head = format!("{} [{}] {}", case.location(), g.title, case.command_line());
                match judge(sides, case) {
                    Verdict::Agree => tally.agree += 1,
                    Verdict::Deliberate(why) => tally.deliberate.push(format!("{head}\n    {why}")),
                    Verdict::Disagree(why) => tally.disagree.push(format!("{head}\n  {why}")),
                }
            }
        }
    }
    sides.clean();
}

#[test]
#[ignore = "needs root"]
fn berth_behaves_as_docker() {
    assert!(
        common::is_root(),
        "needs root: run as root with --include-ignored"
    );
    common::require("dockerd", "docker.io");
    common::require("nsenter", "util-linux");
    let t = tempfile::Builder::new()
        .prefix("berth-diff")
        .tempdir_in("/tmp")
        .unwrap();
    let tar = common::busybox_tar(t.path(), 0);

    let only: Vec<String> = std::env::var("BERTH_DIFF_FILES")
        .map(|v| v.split(',').map(String::from).collect())
        .unwrap_or_default();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cases"))
        .filter(|p| {
            only.is_empty()
                || only.iter().any(|w| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().contains(w))
                })
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    // `*.bridge.cases` run with both default bridges on, each side in a network namespace
    // of its own; the others without a default bridge on either side.
    let (bridged, plain): (Vec<_>, Vec<_>) = files
        .iter()
        .cloned()
        .partition(|p| p.to_string_lossy().ends_with(".bridge.cases"));

    // Every side in a throwaway network namespace of its own: bridges, veths and rules
    // (dockerd's user networks too) never touch the real host's. Declared first, dropped
    // last: after the daemons and containers.
    let pid = std::process::id();
    let nets: Vec<Netns> = ["pb", "pd", "bb", "bd"]
        .iter()
        .map(|k| Netns::new(format!("berth-diff{k}-{pid}")))
        .collect();
    let mut tally = Tally::default();
    if !plain.is_empty() {
        let sides = make_sides(
            &t.path().join("plain"),
            &tar,
            (&nets[0].0, &nets[1].0),
            false,
        );
        run_files(&sides, &plain, &mut tally);
    }
    if !bridged.is_empty() {
        let sides = make_sides(
            &t.path().join("bridge"),
            &tar,
            (&nets[2].0, &nets[3].0),
            true,
        );
        run_files(&sides, &bridged, &mut tally);
    }

    let Tally {
        lines,
        agree,
        deliberate,
        disagree,
    } = tally;
    let mut report = format!(
        "differential test: {lines} command lines in {} case files; {agree} agree with \
         Docker, {} differ on purpose, {} disagree\n",
        files.len(),
        deliberate.len(),
        disagree.len()
    );
    if !deliberate.is_empty() {
        report.push_str("\ndeliberate differences (docs/docker-compat.md):\n");
        for d in &deliberate {
            report.push_str(&format!("  {d}\n"));
        }
    }
    if !disagree.is_empty() {
        report.push_str("\ndisagreements:\n");
        for d in &disagree {
            report.push_str(&format!("  {d}\n"));
        }
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential-report.txt");
    let _ = std::fs::write(&out, &report);
    eprintln!("{report}");
    assert!(disagree.is_empty(), "{report}");
}
