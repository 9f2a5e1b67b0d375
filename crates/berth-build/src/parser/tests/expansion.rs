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

/// The values Docker (20.10's builder, same lexer for these forms) put in the image config
/// for this Dockerfile, `FROM scratch` and metadata only; recorded by hand with
/// `DOCKER_BUILDKIT=0 docker build` and `docker inspect` (2026-12-06). Each instruction's
/// words see the variables set before it, not those it sets itself (`B=${A}b` gives `b`).
#[test]
fn values_docker_put_in_the_image_config() {
    let d = p(r#"FROM scratch
ARG X=argx
ENV A=a E= S="x y" Q='$A' B=${A}b C="${A} c" D=\$A F=${U:-def} G=${A:+alt} H=${E:-emp} J="a\"b" K=a\ b
ENV L legacy value $A
LABEL "k $A"="v ${S}" plain=${X}
WORKDIR /w/$A/${X}
USER ${A}:${U:-grp}
EXPOSE ${P:-80}/tcp 53/udp
VOLUME ["/v/$A", "/v2"]
VOLUME /v3/$A
STOPSIGNAL ${SIG:-SIGQUIT}
"#);
    let mut env: Vec<(String, String)> = Vec::new();
    let mut got: Vec<String> = Vec::new();
    for i in &d.stages[0].instructions {
        let i = i.expand("Dockerfile", '\\', &env).unwrap();
        match i.kind {
            Kind::Arg(a) => env.extend(
                a.into_iter()
                    .map(|a| (a.name, a.default.unwrap_or_default())),
            ),
            Kind::Env(v) => {
                for kv in v {
                    got.push(format!("{}={}", kv.key, kv.value));
                    env.push((kv.key, kv.value));
                }
            }
            Kind::Label(v) => got.extend(
                v.into_iter()
                    .map(|kv| format!("label {}={}", kv.key, kv.value)),
            ),
            Kind::Workdir(w) => got.push(format!("workdir {w}")),
            Kind::User(u) => got.push(format!("user {u}")),
            Kind::Expose(p) => got.push(format!("expose {}", p.join(" "))),
            Kind::Volume(v) => got.push(format!("volume {}", v.join(" "))),
            Kind::StopSignal(s) => got.push(format!("stopsignal {s}")),
            k => panic!("{k:?}"),
        }
    }
    assert_eq!(
        got,
        [
            "A=a",
            "E=",
            "S=x y",
            "Q=$A",
            "B=b",
            "C= c",
            "D=$A",
            "F=def",
            "G=",
            "H=emp",
            "J=a\"b",
            "K=a b",
            "L=legacy value a",
            "label k a=v x y",
            "label plain=argx",
            "workdir /w/a/argx",
            "user a:grp",
            "expose 80/tcp 53/udp",
            "volume /v/a /v2",
            "volume /v3/a",
            "stopsignal SIGQUIT",
        ]
    );
}
