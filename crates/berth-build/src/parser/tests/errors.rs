//! Every error: its message (BuildKit's words) and where it points.

use super::*;

/// The error of `FROM scratch` + `line` (the line is line 2).
fn e2(line: &str) -> String {
    err(&format!("FROM scratch\n{line}\n"))
}

#[test]
fn unknown_instruction() {
    assert_eq!(
        e2("RUNN x"),
        "Dockerfile:2:1: unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        e2("  copyy a b"),
        "Dockerfile:2:3: unknown instruction: copyy (did you mean COPY?)"
    );
    assert_eq!(
        e2("BANANA x"),
        "Dockerfile:2:1: unknown instruction: BANANA"
    );
    let e = parse("build/Dockerfile.dev", "FROM a\nFORM b\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "build/Dockerfile.dev:2:1: unknown instruction: FORM (did you mean FROM?)"
    );
    assert_eq!((e.line, e.column), (2, 1));
}

#[test]
fn file_level_errors() {
    assert_eq!(err(""), "Dockerfile:1:1: file with no instructions");
    assert_eq!(
        err("# just a comment\n\n"),
        "Dockerfile:1:1: file with no instructions"
    );
    assert_eq!(
        err("ARG a\n"),
        "Dockerfile:1:1: dockerfile contains no stages to build"
    );
    assert_eq!(
        err("ARG a\nRUN x\n"),
        "Dockerfile:2:1: no build stage in current context"
    );
    assert_eq!(
        err("FROM a AS x\nFROM b AS X\n"),
        "Dockerfile:2:1: duplicate stage name \"x\""
    );
}

#[test]
fn from_errors() {
    assert_eq!(
        err("FROM\n"),
        "Dockerfile:1:1: FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM a b\n"),
        "Dockerfile:1:6: FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM a AS b c\n"),
        "Dockerfile:1:6: FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM a AS 1x\n"),
        "Dockerfile:1:6: invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
    );
    assert_eq!(err("FROM --foo=1 a\n"), "Dockerfile:1:6: unknown flag: foo");
    assert_eq!(
        err("FROM --platform a\n"),
        "Dockerfile:1:6: missing a value on flag: platform"
    );
}

#[test]
fn flag_errors() {
    assert_eq!(
        e2("COPY --link=maybe a b"),
        "Dockerfile:2:6: expecting boolean value for flag link, not: maybe"
    );
    assert_eq!(
        e2("COPY --link= a b"),
        "Dockerfile:2:6: missing a value on flag: link"
    );
    assert_eq!(
        e2("COPY --from a b"),
        "Dockerfile:2:6: missing a value on flag: from"
    );
    assert_eq!(
        e2("COPY --from=a --from=b a b"),
        "Dockerfile:2:6: duplicate flag specified: from"
    );
    assert_eq!(e2("RUN --foo x"), "Dockerfile:2:5: unknown flag: foo");
    assert_eq!(
        e2("RUN --network=bridge x"),
        "Dockerfile:2:5: invalid value \"bridge\" for --network: must be default, none or host"
    );
    assert_eq!(
        e2("RUN --security=x y"),
        "Dockerfile:2:5: invalid value \"x\" for --security: must be sandbox or insecure"
    );
    assert_eq!(
        e2("RUN --mount= y"),
        "Dockerfile:2:5: invalid value \"\" for --mount: empty mount"
    );
    assert_eq!(e2("ENV --x=1 A=1"), "Dockerfile:2:5: unknown flag: x");
    assert_eq!(e2("CMD --x=1 a"), "Dockerfile:2:5: unknown flag: x");
    assert_eq!(e2("ONBUILD --x RUN a"), "Dockerfile:2:9: unknown flag: x");
}

#[test]
fn argument_count_errors() {
    assert_eq!(
        e2("RUN"),
        "Dockerfile:2:1: RUN requires at least one argument"
    );
    assert_eq!(
        e2("COPY a"),
        "Dockerfile:2:6: COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(
        e2("ADD"),
        "Dockerfile:2:1: ADD requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    for kw in ["USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"] {
        assert_eq!(
            e2(kw),
            format!("Dockerfile:2:1: {kw} requires exactly one argument")
        );
    }
    for kw in [
        "ENV",
        "LABEL",
        "ARG",
        "EXPOSE",
        "VOLUME",
        "HEALTHCHECK",
        "SHELL",
        "ONBUILD",
    ] {
        assert_eq!(
            e2(kw),
            format!("Dockerfile:2:1: {kw} requires at least one argument")
        );
    }
    assert_eq!(
        e2("SHELL []"),
        "Dockerfile:2:1: SHELL requires at least one argument"
    );
}

#[test]
fn json_errors() {
    assert_eq!(
        e2("CMD [\"a\", 1]"),
        "Dockerfile:2:5: when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(
        e2("RUN [null]"),
        "Dockerfile:2:5: when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(
        e2("COPY [\"a\", []]"),
        "Dockerfile:2:6: when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(
        e2("SHELL /bin/sh -c"),
        "Dockerfile:2:7: SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        e2("VOLUME [\"\"]"),
        "Dockerfile:2:8: VOLUME specified can not be an empty string"
    );
}

#[test]
fn key_value_errors() {
    assert_eq!(e2("ENV A"), "Dockerfile:2:5: ENV must have two arguments");
    assert_eq!(
        e2("LABEL A"),
        "Dockerfile:2:7: LABEL must have two arguments"
    );
    assert_eq!(
        e2("ENV A=1 B"),
        "Dockerfile:2:5: Syntax error - can't find = in \"B\". Must be of the form: name=value"
    );
    assert_eq!(e2("ENV =1"), "Dockerfile:2:5: ENV names can not be blank");
    assert_eq!(
        e2("LABEL =1"),
        "Dockerfile:2:7: LABEL names can not be blank"
    );
    assert_eq!(e2("ARG =x"), "Dockerfile:2:5: ARG names can not be blank");
}

#[test]
fn healthcheck_errors() {
    assert_eq!(
        e2("HEALTHCHECK NONE x"),
        "Dockerfile:2:13: HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        e2("HEALTHCHECK CMD"),
        "Dockerfile:2:13: Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        e2("HEALTHCHECK CMD []"),
        "Dockerfile:2:13: Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        e2("HEALTHCHECK FOO x"),
        "Dockerfile:2:13: Unknown type \"FOO\" in HEALTHCHECK (try CMD)"
    );
    for (flag, msg) in [
        (
            "--interval=1x",
            "invalid value \"1x\" for --interval: time: unknown unit \"x\" in duration \"1x\"",
        ),
        (
            "--timeout=5",
            "invalid value \"5\" for --timeout: time: missing unit in duration \"5\"",
        ),
        (
            "--start-period=-5s",
            "invalid value \"-5s\" for --start-period: \"-5s\" is negative",
        ),
        (
            "--start-interval=10us",
            "invalid value \"10us\" for --start-interval: cannot be less than 1ms",
        ),
        (
            "--interval=s",
            "invalid value \"s\" for --interval: time: invalid duration \"s\"",
        ),
        (
            "--retries=-1",
            "invalid value \"-1\" for --retries: cannot be negative",
        ),
        (
            "--retries=x",
            "invalid value \"x\" for --retries: not an integer",
        ),
        (
            "--retries=9999999999",
            "invalid value \"9999999999\" for --retries: out of range",
        ),
        ("--retry=1", "unknown flag: retry"),
    ] {
        assert_eq!(
            e2(&format!("HEALTHCHECK {flag} CMD true")),
            format!("Dockerfile:2:13: {msg}")
        );
    }
}

#[test]
fn onbuild_errors() {
    assert_eq!(
        e2("ONBUILD ONBUILD RUN x"),
        "Dockerfile:2:9: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        e2("ONBUILD FROM x"),
        "Dockerfile:2:9: FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        e2("ONBUILD maintainer x"),
        "Dockerfile:2:9: MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        e2("ONBUILD RUNN x"),
        "Dockerfile:2:9: unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        e2("ONBUILD COPY a"),
        "Dockerfile:2:14: COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
}

#[test]
fn errors_on_continued_lines_point_at_the_instruction() {
    assert_eq!(
        err("FROM scratch\nCOPY \\\n  --from=a \\\n  --from=b a b\n"),
        "Dockerfile:2:1: duplicate flag specified: from"
    );
    assert_eq!(
        err("FROM scratch\n  COPY --x=1 \\\n a b\n"),
        "Dockerfile:2:8: unknown flag: x"
    );
}

#[test]
fn expansion_errors_name_the_instruction() {
    let d = p("FROM scratch\n\nWORKDIR ${A:?must be set}\n");
    let i = &d.stages[0].instructions[0];
    let empty: &[(String, String)] = &[];
    let e = i.expand("Dockerfile", '\\', empty).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Dockerfile:3:1: failed to process \"${A:?must be set}\": A: must be set"
    );
}
