//! `Instruction::expand` and `Stage::expand_base`: which instructions Docker expands, and
//! how.

use super::*;

fn env() -> Vec<(String, String)> {
    [("A", "a"), ("D", "/data"), ("U", "app"), ("S", "x y")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The only instruction of `FROM scratch` + `line`, expanded.
fn x(line: &str) -> Kind {
    let v = body(line);
    assert_eq!(v.len(), 1);
    match v[0].expand("Dockerfile", '\\', &env()) {
        Ok(i) => i.kind,
        Err(e) => panic!("{line:?}: {e}"),
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v.into(),
    }
}

#[test]
fn expanded_instructions() {
    assert_eq!(
        x("ENV B=$A C=\"${A} b\" E='$A' $A=1"),
        Kind::Env(vec![
            kv("B", "a"),
            kv("C", "a b"),
            kv("E", "$A"),
            kv("a", "1")
        ])
    );
    assert_eq!(
        x("ENV P ${D}/bin:\"q\""),
        Kind::Env(vec![kv("P", "/data/bin:q")])
    );
    assert_eq!(
        x("LABEL \"k $A\"=\"${U:-x}\""),
        Kind::Label(vec![kv("k a", "app")])
    );
    assert_eq!(
        x("ARG X=${A}1 Y"),
        Kind::Arg(vec![
            ArgDef {
                name: "X".into(),
                default: Some("a1".into())
            },
            ArgDef {
                name: "Y".into(),
                default: None
            }
        ])
    );
    assert_eq!(x("EXPOSE ${P:-80}/tcp"), Kind::Expose(s(&["80/tcp"])));
    assert_eq!(x("USER $U:$U"), Kind::User("app:app".into()));
    assert_eq!(x("WORKDIR $D/$S"), Kind::Workdir("/data/x y".into()));
    assert_eq!(
        x("STOPSIGNAL ${SIG:-SIGQUIT}"),
        Kind::StopSignal("SIGQUIT".into())
    );
    assert_eq!(x("VOLUME $D [\"x\"]"), Kind::Volume(s(&["/data", "[x]"])));
    assert_eq!(x("VOLUME [\"$D\"]"), Kind::Volume(s(&["/data"])));
}

#[test]
fn copy_and_add_expand_paths_and_flags() {
    let Kind::Copy(c) =
        x("COPY --from=$A --chown=$U --chmod=${M:-644} --exclude=$A.md src/$A* $D/")
    else {
        panic!()
    };
    assert_eq!(c.from.as_deref(), Some("a"));
    assert_eq!(c.chown.as_deref(), Some("app"));
    assert_eq!(c.chmod.as_deref(), Some("644"));
    assert_eq!(c.excludes, s(&["a.md"]));
    assert_eq!(c.sources, vec![Source::Path("src/a*".into())]);
    assert_eq!(c.dest, "/data/");
    let Kind::Add(a) = x("ADD --checksum=${SUM:-sha256:1} http://h/$A.tgz /") else {
        panic!()
    };
    assert_eq!(a.checksum.as_deref(), Some("sha256:1"));
    assert_eq!(a.sources, vec![Source::Path("http://h/a.tgz".into())]);
}

#[test]
fn copy_heredoc_bodies_expand_unless_quoted_and_keep_quotes() {
    let Kind::Copy(c) = x("COPY <<EOF <<'RAW' /d/\nuser=\"$U\" \\$A\nEOF\nuser=$U\nRAW\n") else {
        panic!()
    };
    let contents: Vec<&str> = c
        .sources
        .iter()
        .map(|s| match s {
            Source::Heredoc(h) => h.content.as_str(),
            Source::Path(p) => p.as_str(),
        })
        .collect();
    assert_eq!(contents, ["user=\"app\" $A\n", "user=$U\n"]);
}

#[test]
fn commands_stay_as_written() {
    for line in [
        "RUN echo $A",
        "CMD echo $A",
        "ENTRYPOINT [\"$A\"]",
        "HEALTHCHECK CMD test $A",
        "SHELL [\"$A\"]",
        "MAINTAINER $A",
        "ONBUILD WORKDIR $A",
        "RUN <<EOF\n$A\nEOF",
    ] {
        let v = body(line);
        assert_eq!(
            v[0].expand("Dockerfile", '\\', &env()).unwrap(),
            v[0],
            "{line}"
        );
    }
}

#[test]
fn run_mount_values_expand() {
    let Kind::Run(r) = x("RUN --mount=type=cache,target=$D --network=none echo $A") else {
        panic!()
    };
    assert_eq!(r.mounts().collect::<Vec<_>>(), ["type=cache,target=/data"]);
    assert_eq!(r.command, Form::Shell("echo $A".into()));
}

#[test]
fn backtick_escape_in_expansion() {
    let d = p("# escape=`\nFROM scratch\nWORKDIR c:\\`$A\\$A\n");
    let i = d.stages[0].instructions[0]
        .expand("Dockerfile", d.directives.escape, &env())
        .unwrap();
    assert_eq!(i.kind, Kind::Workdir("c:\\$A\\a".into()));
}

#[test]
fn stage_base_from_meta_args() {
    let d = p("ARG IMG=busybox\nFROM --platform=${P:-linux/amd64} $IMG:${TAG:-latest} AS b\n");
    let meta = vec![("IMG".to_string(), "busybox".to_string())];
    assert_eq!(
        d.stages[0].expand_base("Dockerfile", '\\', &meta).unwrap(),
        (
            "busybox:latest".to_string(),
            Some("linux/amd64".to_string())
        )
    );
    // Words are split before expansion, as in BuildKit: no blanks inside `${}` here.
    let bad = p("FROM ${IMG:?set_IMG}\n");
    let empty: &[(String, String)] = &[];
    assert_eq!(
        bad.stages[0]
            .expand_base("Dockerfile", '\\', empty)
            .unwrap_err()
            .to_string(),
        "Dockerfile:1:1: failed to process \"${IMG:?set_IMG}\": IMG: set_IMG"
    );
}

#[test]
fn empty_volume_after_expansion_is_refused() {
    let v = body("VOLUME $NOPE");
    let e = v[0].expand("Dockerfile", '\\', &env()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Dockerfile:2:1: VOLUME specified can not be an empty string"
    );
}
