//! The engine end to end: templates over JSON, compared with what docker 28.2 prints.

use serde_json::{Value, json};

use super::{Schema, Template, docker};

mod exec;
mod funcs;
mod lexer;
mod parse;

fn run(t: &str, v: &Value) -> Result<String, String> {
    let t = Template::parse("", t).map_err(|e| e.to_string())?;
    docker::inspect(&t, v, &docker::CONTAINER, true).map_err(|e| e.to_string())
}

#[test]
fn basics() {
    let v = json!({"Name": "/c1", "State": {"Running": true, "ExitCode": 0}});
    assert_eq!(
        run("{{.Name}} {{.State.Running}}", &v).as_deref(),
        Ok("/c1 true")
    );
    let _ = Schema::PLAIN;
}

/// Docker's structs print as Go structs, fields in Go's order (zero values for the fields
/// docker's JSON leaves out); outputs are docker 28.2's for a container created with
/// `-v /tmp/src:/dst:ro -v vm1:/vol --restart on-failure:3`.
#[test]
fn structs_print_as_go() {
    let v = json!({
        "Mounts": [
            {"Type": "bind", "Source": "/tmp/src", "Destination": "/dst", "Mode": "ro",
             "RW": false, "Propagation": "rprivate"},
            {"Type": "volume", "Name": "vm1", "Source": "/v/_data", "Destination": "/vol",
             "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""},
        ],
        "HostConfig": {"RestartPolicy": {"MaximumRetryCount": 3, "Name": "on-failure"}},
        "Config": {"ExposedPorts": {"80/tcp": {}}},
        "State": {"Dead": false, "Error": "", "ExitCode": 0, "FinishedAt": "F", "OOMKilled": false,
                  "Paused": false, "Pid": 0, "Restarting": false, "Running": false,
                  "StartedAt": "S", "Status": "created"},
    });
    let cases = [
        (
            "{{.Mounts}}",
            "[{bind  /tmp/src /dst  ro false rprivate} {volume vm1 /v/_data /vol local z true }]",
        ),
        (
            "{{range .Mounts}}{{.}}{{end}}",
            "{bind  /tmp/src /dst  ro false rprivate}{volume vm1 /v/_data /vol local z true }",
        ),
        ("{{.HostConfig.RestartPolicy}}", "{on-failure 3}"),
        (
            r#"{{printf "%+v" .HostConfig.RestartPolicy}}"#,
            "{Name:on-failure MaximumRetryCount:3}",
        ),
        (
            r#"{{printf "%s" .HostConfig.RestartPolicy}}"#,
            "{on-failure %!s(int=3)}",
        ),
        (
            "{{json .HostConfig.RestartPolicy}}",
            r#"{"Name":"on-failure","MaximumRetryCount":3}"#,
        ),
        (
            "{{json (index .Mounts 0)}}",
            r#"{"Type":"bind","Source":"/tmp/src","Destination":"/dst","Mode":"ro","RW":false,"Propagation":"rprivate"}"#,
        ),
        ("{{.Config.ExposedPorts}}", "map[80/tcp:{}]"),
        (
            "{{.State}}",
            "{created false false false false false 0 0  S F <nil>}",
        ),
        (
            r#"{{printf "%v" .State}}"#,
            "&{created false false false false false 0 0  S F <nil>}",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(run(t, &v).as_deref(), Ok(want), "{t}");
    }
}

/// Go names some fields otherwise than their JSON keys: only the Go name reaches them over
/// docker's typed data (docker info has no raw fallback).
#[test]
fn renamed_fields_by_go_name() {
    let info = json!({"HttpProxy": "p", "CpuCfsPeriod": true, "CPUShares": true});
    let t = |s: &str| {
        Template::parse("", s)
            .and_then(|t| t.execute(&info, &docker::INFO))
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        t("{{.HTTPProxy}} {{.CPUCfsPeriod}} {{.CPUShares}}").as_deref(),
        Ok("p true true")
    );
    assert_eq!(
        t("{{.HttpProxy}}"),
        Err(
            "template: :1:2: executing \"\" at <.HttpProxy>: can't evaluate field HttpProxy in type system.dockerInfo"
                .to_owned()
        )
    );
}

/// Health-check durations are Go `time.Duration`s: they print as "2s" and encode as
/// nanoseconds; a typed object encodes in the model's (Docker's struct) key order while
/// maps sort their keys. Outputs are docker 28.2's for `--health-cmd true
/// --health-interval 2s --health-retries 2 --label b=1 --label a=2`.
#[test]
fn durations_and_key_order_as_go() {
    let v = json!({
        "Config": {
            "Labels": {"b": "1", "a": "2"},
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000_i64,
                            "Timeout": 1_500_000, "Retries": 2},
        },
    });
    let r = |t: &str| run(t, &v);
    assert_eq!(r("{{.Config.Healthcheck.Interval}}").as_deref(), Ok("2s"));
    assert_eq!(r("{{.Config.Healthcheck.Timeout}}").as_deref(), Ok("1.5ms"));
    assert_eq!(
        r("{{printf \"%v %d %s\" .Config.Healthcheck.Interval .Config.Healthcheck.Interval .Config.Healthcheck.Interval}}")
            .as_deref(),
        Ok("2s 2000000000 2s")
    );
    assert_eq!(
        r("{{if eq .Config.Healthcheck.Interval 2000000000}}yes{{end}}").as_deref(),
        Ok("yes")
    );
    assert_eq!(
        r("{{json .Config.Healthcheck}}").as_deref(),
        Ok(r#"{"Test":["CMD-SHELL","true"],"Interval":2000000000,"Timeout":1500000,"Retries":2}"#)
    );
    assert_eq!(
        r("{{json .Config.Labels}}").as_deref(),
        Ok(r#"{"a":"2","b":"1"}"#)
    );
    assert_eq!(r("{{.Config.Labels}}").as_deref(), Ok("map[a:2 b:1]"));
    assert_eq!(
        r("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}").as_deref(),
        Ok("a=2 b=1 ")
    );
    for (ns, s) in [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_500_000_000, "1h2m3.5s"),
        (-2_000_000_000, "-2s"),
    ] {
        assert_eq!(super::value::go_duration(ns), s);
    }
}
