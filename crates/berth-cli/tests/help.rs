//! A new user's view of the command line: help texts, usage errors in docker's words,
//! shell completions and man pages (issue 10).

use std::process::Command;

fn berth(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("BERTH_ROOT", "/nonexistent/berth-help-test")
        .output()
        .expect("run berth");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn usage_errors_in_dockers_words() {
    let (code, out, err) = berth(&["run"]);
    assert_ne!(code, 0);
    assert_eq!(out, "");
    assert!(
        err.starts_with(
            "berth: 'berth run' requires at least 1 argument\n\nUsage:  berth run [OPTIONS] "
        ),
        "{err}"
    );
    assert!(
        err.ends_with("\n\nRun 'berth run --help' for more information\n"),
        "{err}"
    );
    assert!(!err.contains("error:"), "{err}");

    let (_, _, err) = berth(&["ps", "--bogus"]);
    assert_eq!(
        err,
        "unknown flag: --bogus\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n"
    );
    let (_, _, err) = berth(&["bogus"]);
    assert_eq!(
        err,
        "berth: unknown command: berth bogus\n\nRun 'berth --help' for more information\n"
    );
}

#[test]
fn subcommand_help_has_its_own_options_and_explains_its_arguments() {
    let (code, out, _) = berth(&["cp", "--help"]);
    assert_eq!(code, 0);
    // The global options are the root's, as docker's are, not every command's.
    assert!(!out.contains("--root"), "{out}");
    assert!(!out.contains("--log-level"), "{out}");
    assert!(out.contains("CONTAINER:SRC_PATH"), "{out}");
    assert!(out.contains("- to write a tar archive to stdout"), "{out}");
    let (_, out, _) = berth(&["--help"]);
    assert!(out.contains("--root"), "{out}");
    let (_, out, _) = berth(&["run", "--help"]);
    // -p is listed, as docker lists it, with what it does here.
    assert!(out.contains("nftables DNAT on bridge networks"), "{out}");
}

#[test]
fn completion_scripts() {
    for (shell, marker) in [
        ("bash", "complete -F _berth"),
        ("zsh", "#compdef berth"),
        ("fish", "complete -c berth"),
    ] {
        let (code, out, err) = berth(&["completion", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: {out:.300}");
        assert!(out.contains("commit"), "{shell}");
    }
    let (code, _, err) = berth(&["completion", "tcsh"]);
    assert_ne!(code, 0);
    assert!(err.starts_with("invalid argument \"tcsh\""), "{err}");
}

#[test]
fn man_pages() {
    let dir = std::env::temp_dir().join(format!("berth-man-test-{}", std::process::id()));
    let (code, _, err) = berth(&["man-pages", dir.to_str().expect("utf-8 temp dir")]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let (root, run, image_ls) = (
        read("berth.1"),
        read("berth-run.1"),
        read("berth-image-ls.1"),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{err}");
    assert!(root.expect("berth.1").contains(".TH berth 1"));
    assert!(run.expect("berth-run.1").contains("\\-\\-volume"));
    assert!(image_ls.is_ok(), "berth-image-ls.1 missing");
}
