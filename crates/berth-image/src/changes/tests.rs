use super::*;

fn run_on(base: Value, changes: &[&str]) -> Result<Value> {
    let mut m = base.as_object().cloned().unwrap_or_default();
    let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
    apply_changes(&mut m, &changes)?;
    Ok(Value::Object(m))
}

fn run(changes: &[&str]) -> Result<Value> {
    run_on(json!({}), changes)
}

#[test]
fn all_instructions() {
    let v = run(&[
        r#"CMD ["/bin/sh"]"#,
        "ENTRYPOINT echo hi",
        "ENV A=1 B=\"two words\"",
        "ENV A=3",
        "ENV LEGACY some value",
        "LABEL org.x=y \"k 2\"=v",
        "LABEL legacy v w",
        "EXPOSE 80 53/udp 1000-1002 81/TCP",
        "USER nobody",
        "WORKDIR /tmp",
        "WORKDIR sub/../x/./y",
        "VOLUME /data /logs",
        r#"VOLUME ["/j"]"#,
        "STOPSIGNAL SIGUSR1",
        "HEALTHCHECK --interval=5s CMD true",
        "ONBUILD run  echo  hi",
    ])
    .unwrap();
    // CMD came first, so the ENTRYPOINT keeps it.
    assert_eq!(v["Cmd"], json!(["/bin/sh"]));
    assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
    assert_eq!(v["Env"], json!(["A=3", "B=two words", "LEGACY=some value"]));
    assert_eq!(
        v["Labels"],
        json!({"org.x": "y", "k 2": "v", "legacy": "v w"})
    );
    assert_eq!(
        v["ExposedPorts"],
        json!({"80/tcp": {}, "53/udp": {}, "1000/tcp": {}, "1001/tcp": {}, "1002/tcp": {}, "81/tcp": {}})
    );
    assert_eq!(v["User"], json!("nobody"));
    assert_eq!(v["WorkingDir"], json!("/tmp/x/y"));
    assert_eq!(v["Volumes"], json!({"/data": {}, "/logs": {}, "/j": {}}));
    assert_eq!(v["StopSignal"], json!("SIGUSR1"));
    assert_eq!(
        v["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64})
    );
    assert_eq!(v["OnBuild"], json!(["run  echo  hi"]));
}

#[test]
fn entrypoint_clears_cmd_unless_cmd_is_among_the_changes() {
    let base = json!({"Cmd": ["sh"], "Env": null});
    let v = run_on(base.clone(), &[r#"ENTRYPOINT ["ep"]"#]).unwrap();
    assert!(v.get("Cmd").is_none(), "{v}");
    let v = run_on(base, &[r#"ENTRYPOINT ["ep"]"#, "CMD x"]).unwrap();
    assert_eq!(v["Cmd"], json!(["/bin/sh", "-c", "x"]));
}

#[test]
fn null_fields_are_filled() {
    // Configs from Docker archives carry nulls ("Env": null).
    let base = json!({"Env": null, "Labels": null, "ExposedPorts": null, "Volumes": null, "OnBuild": null});
    let v = run_on(
        base,
        &[
            "ENV X=1",
            "LABEL a=b",
            "EXPOSE 80",
            "VOLUME /v",
            "ONBUILD RUN x",
        ],
    )
    .unwrap();
    assert_eq!(v["Env"], json!(["X=1"]));
    assert_eq!(v["Labels"], json!({"a": "b"}));
    assert_eq!(v["OnBuild"], json!(["RUN x"]));
}

#[test]
fn variables_expand_from_the_environment() {
    let base = json!({"Env": ["A=1", "P=/bin"], "WorkingDir": "/tmp"});
    let v = run_on(
        base,
        &[
            "ENV B=$A-x C=${A}y D=${NO:-def} E=${A:+alt} F=\\$A P=$P:/x",
            "USER $A",
            "WORKDIR $A",
            "LABEL l=$A",
            "EXPOSE $A",
            "VOLUME /v$A",
            "CMD echo $A",
        ],
    )
    .unwrap();
    assert_eq!(
        v["Env"],
        json!([
            "A=1",
            "P=/bin:/x",
            "B=1-x",
            "C=1y",
            "D=def",
            "E=alt",
            "F=$A"
        ])
    );
    assert_eq!(v["User"], json!("1"));
    assert_eq!(v["WorkingDir"], json!("/tmp/1"));
    assert_eq!(v["Labels"], json!({"l": "1"}));
    assert_eq!(v["ExposedPorts"], json!({"1/tcp": {}}));
    assert_eq!(v["Volumes"], json!({"/v1": {}}));
    // CMD is not expanded: its shell does that.
    assert_eq!(v["Cmd"], json!(["/bin/sh", "-c", "echo $A"]));
}

#[test]
fn refuses_bad_and_changes_nothing() {
    for c in [
        "",
        "RUN echo",
        "FROM x",
        "SHELL [\"/bin/ash\"]",
        "MAINTAINER me",
        "CMD",
        r#"CMD ["a", 1]"#,
        "EXPOSE",
        "EXPOSE 70000",
        "EXPOSE 80/xyz",
        "EXPOSE 9-3",
        "ENV",
        "ENV =x",
        "ENV A",
        "ENV a=1 b",
        "LABEL",
        "LABEL \"unterminated=1",
        "USER",
        "WORKDIR",
        "VOLUME",
        "VOLUME []",
        r#"VOLUME [""]"#,
        "STOPSIGNAL",
        "STOPSIGNAL bogus",
        "HEALTHCHECK",
        "HEALTHCHECK CMD",
        "ONBUILD",
        "ONBUILD ONBUILD RUN x",
        "ONBUILD FROM x",
        "ONBUILD bogus",
    ] {
        let base = json!({"Cmd": ["sh"]});
        let mut m = base.as_object().cloned().unwrap();
        let changes = vec!["ENV OK=1".to_owned(), c.to_owned()];
        assert!(apply_changes(&mut m, &changes).is_err(), "{c:?}");
        assert_eq!(Value::Object(m), base, "{c:?} changed the config");
    }
}

#[test]
fn commit_merge() {
    let orig = json!({
        "Cmd": ["sh", "-c", "echo hi"], "Env": ["A=1"], "User": "nobody",
        "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 10_000_000_000u64},
        "Labels": {"x": "y"}, "ExposedPorts": {"80/tcp": {}},
    });
    let o = orig.as_object().unwrap();
    // An ENTRYPOINT's cleared Cmd stays cleared; a new health check keeps what it leaves
    // unset from the container's.
    let mut new = o.clone();
    apply_changes(
        &mut new,
        &[
            r#"ENTRYPOINT ["ep"]"#.into(),
            "HEALTHCHECK --retries=2 CMD false".into(),
        ],
    )
    .unwrap();
    merge_commit(&mut new, o);
    assert!(new.get("Cmd").is_none());
    assert_eq!(
        new["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "false"], "Retries": 2, "Interval": 10_000_000_000u64})
    );
    // CMD [] falls back to the container's command.
    let mut new = o.clone();
    apply_changes(&mut new, &["CMD []".into()]).unwrap();
    merge_commit(&mut new, o);
    assert_eq!(new["Cmd"], json!(["sh", "-c", "echo hi"]));
    let mut p = json!({"A": null, "B": [], "C": {}, "D": "", "E": ["x"], "F": false})
        .as_object()
        .cloned()
        .unwrap();
    prune_empty(&mut p);
    assert_eq!(Value::Object(p), json!({"E": ["x"], "F": false}));
}
