//! Each instruction and its forms.

use std::time::Duration;

use super::*;

fn run(command: Form, flags: &[(&str, &str)]) -> Kind {
    Kind::Run(Run {
        flags: flags
            .iter()
            .map(|(n, v)| Flag {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        command,
        heredocs: vec![],
    })
}

#[test]
fn from_forms() {
    let d = p(
        "ARG TAG=1\nFROM --platform=$BUILDPLATFORM busybox:$TAG AS Build\nFROM scratch\nFROM build as final\n",
    );
    assert_eq!(d.meta_args.len(), 1);
    assert_eq!(d.stages.len(), 3);
    let s = &d.stages[0];
    assert_eq!(s.image, "busybox:$TAG");
    assert_eq!(s.name.as_deref(), Some("build"));
    assert_eq!(s.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(
        s.location,
        Location {
            line: 2,
            column: 1,
            end_line: 2
        }
    );
    assert_eq!(d.stages[1].image, "scratch");
    assert_eq!(d.stages[1].name, None);
    assert_eq!(d.stages[2].base_stage(&d.stages[..2]), Some(0));
    assert_eq!(d.stages[1].base_stage(&d.stages[..1]), None);
}

#[test]
fn run_forms() {
    assert_eq!(
        one("RUN echo $HOME  'a b'"),
        run(Form::Shell("echo $HOME  'a b'".into()), &[])
    );
    assert_eq!(
        one(r#"RUN ["echo", "a b"]"#),
        run(Form::Exec(s(&["echo", "a b"])), &[])
    );
    assert_eq!(
        one(r#"RUN [ "sh" ,"-c","x" ] "#),
        run(Form::Exec(s(&["sh", "-c", "x"])), &[])
    );
    // Not JSON: the shell form.
    assert_eq!(
        one("RUN [echo, x]"),
        run(Form::Shell("[echo, x]".into()), &[])
    );
    assert_eq!(one("RUN [\"a\""), run(Form::Shell("[\"a\"".into()), &[]));
}

#[test]
fn run_flags() {
    let k = one(
        "RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=tok --network=none --security=insecure make",
    );
    assert_eq!(
        k,
        run(
            Form::Shell("make".into()),
            &[
                ("mount", "type=cache,target=/root/.cache"),
                ("mount", "type=secret,id=tok"),
                ("network", "none"),
                ("security", "insecure"),
            ]
        )
    );
    let Kind::Run(r) = k else { unreachable!() };
    assert_eq!(
        r.mounts().collect::<Vec<_>>(),
        ["type=cache,target=/root/.cache", "type=secret,id=tok"]
    );
    assert_eq!(r.network(), Some("none"));
    assert_eq!(r.security(), Some("insecure"));
    // Quotes in flags are removed; `--` ends the flags.
    assert_eq!(
        one("RUN --network=\"host\" -- --x"),
        run(Form::Shell("--x".into()), &[("network", "host")])
    );
}

#[test]
fn cmd_and_entrypoint() {
    assert_eq!(one("CMD [\"sh\"]"), Kind::Cmd(Form::Exec(s(&["sh"]))));
    assert_eq!(one("CMD echo hi"), Kind::Cmd(Form::Shell("echo hi".into())));
    assert_eq!(one("CMD []"), Kind::Cmd(Form::Exec(vec![])));
    assert_eq!(one("CMD"), Kind::Cmd(Form::Exec(vec![])));
    assert_eq!(
        one("ENTRYPOINT [\"/bin/x\", \"-v\"]"),
        Kind::Entrypoint(Form::Exec(s(&["/bin/x", "-v"])))
    );
    assert_eq!(
        one("ENTRYPOINT exec top -b"),
        Kind::Entrypoint(Form::Shell("exec top -b".into()))
    );
}

#[test]
fn copy_flags_sources_and_globs() {
    let Kind::Copy(c) = one(
        "COPY --from=build --chown=1:2 --chmod=0755 --link --parents --exclude=*.md --exclude=tmp/ a b* dir/?.txt /dst/",
    ) else {
        panic!()
    };
    assert_eq!(c.from.as_deref(), Some("build"));
    assert_eq!(c.chown.as_deref(), Some("1:2"));
    assert_eq!(c.chmod.as_deref(), Some("0755"));
    assert!(c.link && c.parents && !c.json);
    assert_eq!(c.excludes, s(&["*.md", "tmp/"]));
    assert_eq!(
        c.sources,
        vec![
            Source::Path("a".into()),
            Source::Path("b*".into()),
            Source::Path("dir/?.txt".into())
        ]
    );
    assert_eq!(c.dest, "/dst/");
    let Kind::Copy(c) = one("COPY --link=false [\"a b\", \"/c d/\"]") else {
        panic!()
    };
    assert!(!c.link && c.json);
    assert_eq!(c.sources, vec![Source::Path("a b".into())]);
    assert_eq!(c.dest, "/c d/");
}

#[test]
fn add_flags() {
    let Kind::Add(a) =
        one("ADD --checksum=sha256:abc --keep-git-dir --chown=app https://example.com/x.tgz /x")
    else {
        panic!()
    };
    assert_eq!(a.checksum.as_deref(), Some("sha256:abc"));
    assert!(a.keep_git_dir);
    assert_eq!(a.chown.as_deref(), Some("app"));
    assert_eq!(
        a.sources,
        vec![Source::Path("https://example.com/x.tgz".into())]
    );
    assert_eq!(
        err("FROM scratch\nADD --from=x a b\n"),
        "Dockerfile:2:5: unknown flag: from"
    );
    assert_eq!(
        err("FROM scratch\nCOPY --checksum=x a b\n"),
        "Dockerfile:2:6: unknown flag: checksum"
    );
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v.into(),
    }
}

#[test]
fn env_forms() {
    assert_eq!(
        one("ENV A=1 B=\"two words\" C=three\\ words D='$x'"),
        Kind::Env(vec![
            kv("A", "1"),
            kv("B", "\"two words\""),
            kv("C", "three\\ words"),
            kv("D", "'$x'")
        ])
    );
    assert_eq!(
        one("ENV PATH /usr/bin:$PATH and more"),
        Kind::Env(vec![kv("PATH", "/usr/bin:$PATH and more")])
    );
    assert_eq!(one("ENV E="), Kind::Env(vec![kv("E", "")]));
}

#[test]
fn label_forms() {
    assert_eq!(
        one("LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0"),
        Kind::Label(vec![
            kv("\"com.example.vendor\"", "\"ACME Inc\""),
            kv("version", "1.0")
        ])
    );
    assert_eq!(
        one("LABEL description This text"),
        Kind::Label(vec![kv("description", "This text")])
    );
}

#[test]
fn arg_forms() {
    let d = p("ARG A\nARG B=1 C=\"x y\"\nFROM scratch\nARG D\n");
    let args: Vec<Kind> = d.meta_args.iter().map(|i| i.kind.clone()).collect();
    assert_eq!(
        args,
        vec![
            Kind::Arg(vec![ArgDef {
                name: "A".into(),
                default: None
            }]),
            Kind::Arg(vec![
                ArgDef {
                    name: "B".into(),
                    default: Some("1".into())
                },
                ArgDef {
                    name: "C".into(),
                    default: Some("\"x y\"".into())
                },
            ]),
        ]
    );
    assert_eq!(
        d.stages[0].instructions[0].kind,
        Kind::Arg(vec![ArgDef {
            name: "D".into(),
            default: None
        }])
    );
}

#[test]
fn simple_instructions() {
    assert_eq!(
        one("EXPOSE 80/tcp  53/udp 8000-8010"),
        Kind::Expose(s(&["80/tcp", "53/udp", "8000-8010"]))
    );
    assert_eq!(one("USER app:staff"), Kind::User("app:staff".into()));
    assert_eq!(one("WORKDIR /a b"), Kind::Workdir("/a b".into()));
    assert_eq!(
        one("STOPSIGNAL SIGKILL"),
        Kind::StopSignal("SIGKILL".into())
    );
    assert_eq!(
        one("MAINTAINER Jane <j@example.com>"),
        Kind::Maintainer("Jane <j@example.com>".into())
    );
    assert_eq!(one("VOLUME /a /b"), Kind::Volume(s(&["/a", "/b"])));
    assert_eq!(one("VOLUME [\"/a b\"]"), Kind::Volume(s(&["/a b"])));
    assert_eq!(
        one("SHELL [\"powershell\", \"-command\"]"),
        Kind::Shell(s(&["powershell", "-command"]))
    );
}

#[test]
fn healthcheck_forms() {
    // Flags are not read with NONE (Docker takes `HEALTHCHECK --bogus NONE`).
    assert_eq!(
        one("HEALTHCHECK --bogus NONE"),
        Kind::Healthcheck(Healthcheck {
            test: s(&["NONE"]),
            ..Default::default()
        })
    );
    assert_eq!(
        one("HEALTHCHECK NONE"),
        Kind::Healthcheck(Healthcheck {
            test: s(&["NONE"]),
            ..Default::default()
        })
    );
    assert_eq!(
        one(
            "HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1"
        ),
        Kind::Healthcheck(Healthcheck {
            test: s(&["CMD-SHELL", "curl -f http://localhost/ || exit 1"]),
            interval: Some(Duration::from_secs(300)),
            timeout: Some(Duration::from_secs(3)),
            start_period: Some(Duration::from_secs(90)),
            start_interval: Some(Duration::from_millis(500)),
            retries: Some(3),
        })
    );
    assert_eq!(
        one("HEALTHCHECK --interval=0s cmd [\"/bin/check\", \"-q\"]"),
        Kind::Healthcheck(Healthcheck {
            test: s(&["CMD", "/bin/check", "-q"]),
            ..Default::default()
        })
    );
    assert_eq!(
        one("HEALTHCHECK --interval=1.5h CMD true"),
        Kind::Healthcheck(Healthcheck {
            test: s(&["CMD-SHELL", "true"]),
            interval: Some(Duration::from_secs(5400)),
            ..Default::default()
        })
    );
}

#[test]
fn onbuild_triggers() {
    let Kind::Onbuild(i) = one("ONBUILD COPY --chown=1 . /app") else {
        panic!()
    };
    let Kind::Copy(c) = &i.kind else {
        panic!("{i:?}")
    };
    assert_eq!(c.chown.as_deref(), Some("1"));
    assert_eq!(i.original, "COPY --chown=1 . /app");
    assert_eq!(i.location.column, 9);
    let Kind::Onbuild(i) = one("onbuild run make") else {
        panic!()
    };
    assert_eq!(i.kind, run(Form::Shell("make".into()), &[]));
}

#[test]
fn stages_and_meta_args() {
    let d = p("# syntax=x\nARG V=1\nFROM a AS one\nRUN x\nFROM b AS two\nCOPY --from=one /a /b\n");
    assert_eq!(d.meta_args.len(), 1);
    assert_eq!(
        d.stages
            .iter()
            .map(|s| s.instructions.len())
            .collect::<Vec<_>>(),
        [1, 1]
    );
    assert_eq!(d.stages[1].original, "FROM b AS two");
    assert_eq!(d.stages[0].instructions[0].kind.keyword(), "RUN");
}
