//! Directives, comments, continuations, heredocs.

use super::*;

#[test]
fn directives_at_the_top() {
    let d = p("# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\n");
    assert_eq!(d.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(d.directives.escape, '`');
    let d = p("#ESCAPE = `\n# check=skip=all\nFROM scratch\n");
    assert_eq!(d.directives.escape, '`');
    assert_eq!(d.directives.check.as_deref(), Some("skip=all"));
}

#[test]
fn directives_after_a_comment_blank_or_instruction_are_comments() {
    for text in [
        "# a comment\n# escape=`\nFROM scratch\n",
        "\n# escape=`\nFROM scratch\n",
        "FROM scratch\n# escape=`\n",
        "# unknown=1\n# escape=`\nFROM scratch\n",
    ] {
        assert_eq!(p(text).directives.escape, '\\', "{text:?}");
    }
}

#[test]
fn directive_errors() {
    assert_eq!(
        err("# escape=`\n# escape=\\\nFROM scratch\n"),
        "Dockerfile:2:1: only one escape parser directive can be used"
    );
    assert_eq!(
        err("# escape=x\nFROM scratch\n"),
        "Dockerfile:1:1: invalid escape 'x': must be ` or \\"
    );
}

#[test]
fn comments_and_blank_lines_are_dropped() {
    let v = body("  # indented comment\n\n\t\nRUN a # not a comment\n");
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].kind,
        Kind::Run(Run {
            flags: vec![],
            command: Form::Shell("a # not a comment".into()),
            heredocs: vec![]
        })
    );
    assert_eq!(
        v[0].location,
        Location {
            line: 5,
            column: 1,
            end_line: 5
        }
    );
}

#[test]
fn continuations_join_lines() {
    let v = body("RUN a \\\n  b \\  \n\tc\nUSER x\n");
    assert_eq!(
        v[0].kind,
        Kind::Run(Run {
            flags: vec![],
            command: Form::Shell("a   b \tc".into()),
            heredocs: vec![]
        })
    );
    assert_eq!(
        v[0].location,
        Location {
            line: 2,
            column: 1,
            end_line: 4
        }
    );
    assert_eq!(v[1].location.line, 5);
}

#[test]
fn comments_and_empty_lines_inside_continuations_are_dropped() {
    let v = body("RUN a \\\n# comment\n   # indented comment\n\n   \nb\n");
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].kind,
        Kind::Run(Run {
            flags: vec![],
            command: Form::Shell("a b".into()),
            heredocs: vec![]
        })
    );
}

#[test]
fn backtick_escape_continues_and_backslash_is_literal() {
    let d = p("# escape=`\nFROM scratch\nRUN dir c:\\ `\n  /b\nWORKDIR c:\\windows\n");
    let v = &d.stages[0].instructions;
    assert_eq!(
        v[0].kind,
        Kind::Run(Run {
            flags: vec![],
            command: Form::Shell("dir c:\\   /b".into()),
            heredocs: vec![]
        })
    );
    assert_eq!(v[1].kind, Kind::Workdir("c:\\windows".into()));
}

#[test]
fn continuation_at_end_of_file() {
    let v = body("RUN echo \\");
    assert_eq!(
        v[0].kind,
        Kind::Run(Run {
            flags: vec![],
            command: Form::Shell("echo".into()),
            heredocs: vec![]
        })
    );
}

#[test]
fn crlf_and_bom() {
    let d = p("\u{feff}FROM scratch\r\nRUN a \\\r\n b\r\n");
    assert_eq!(
        d.stages[0].instructions[0].kind,
        Kind::Run(Run {
            flags: vec![],
            command: Form::Shell("a  b".into()),
            heredocs: vec![]
        })
    );
}

#[test]
fn instructions_are_case_insensitive() {
    let v = body("run a\nWorkDir /x\n");
    assert_eq!(v[1].kind, Kind::Workdir("/x".into()));
}

fn heredoc(name: &str, content: &str, expand: bool, chomp: bool) -> Heredoc {
    Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
        chomp,
    }
}

#[test]
fn run_heredoc() {
    let v = body("RUN <<EOF\necho hi\n  echo $X\nEOF\nUSER a\n");
    let Kind::Run(r) = &v[0].kind else {
        panic!("{v:?}")
    };
    assert_eq!(r.command, Form::Shell("<<EOF".into()));
    assert_eq!(
        r.heredocs,
        vec![heredoc("EOF", "echo hi\n  echo $X\n", true, false)]
    );
    assert_eq!(
        v[0].location,
        Location {
            line: 2,
            column: 1,
            end_line: 5
        }
    );
    assert_eq!(v[1].kind, Kind::User("a".into()));
    assert_eq!(v[1].location.line, 6);
}

#[test]
fn heredoc_with_a_command_and_tabs_stripped() {
    let v = body("RUN python3 <<-PY > /out\n\tprint(1)\n\t\tprint(2)\n\tPY\n");
    let Kind::Run(r) = &v[0].kind else {
        panic!("{v:?}")
    };
    assert_eq!(r.command, Form::Shell("python3 <<-PY > /out".into()));
    assert_eq!(
        r.heredocs,
        vec![heredoc("PY", "print(1)\nprint(2)\n", true, true)]
    );
}

#[test]
fn quoted_heredoc_names_turn_expansion_off() {
    for (line, name) in [
        ("RUN <<\"EOF\"", "EOF"),
        ("RUN <<'EOF'", "EOF"),
        ("RUN <<E\"O\"F", "EOF"),
    ] {
        let v = body(&format!("{line}\n$X\nEOF\n"));
        let Kind::Run(r) = &v[0].kind else {
            panic!("{v:?}")
        };
        assert_eq!(
            r.heredocs,
            vec![heredoc(name, "$X\n", false, false)],
            "{line}"
        );
    }
}

#[test]
fn several_heredocs_on_one_line() {
    let v = body("RUN <<A cat > /a && <<B cat > /b\none\nA\ntwo\nB\n");
    let Kind::Run(r) = &v[0].kind else {
        panic!("{v:?}")
    };
    assert_eq!(
        r.heredocs,
        vec![
            heredoc("A", "one\n", true, false),
            heredoc("B", "two\n", true, false)
        ]
    );
}

#[test]
fn copy_heredoc_to_a_file() {
    let v = body("COPY <<EOF /etc/motd\nhello\nEOF\n");
    let Kind::Copy(c) = &v[0].kind else {
        panic!("{v:?}")
    };
    assert_eq!(
        c.sources,
        vec![Source::Heredoc(heredoc("EOF", "hello\n", true, false))]
    );
    assert_eq!(c.dest, "/etc/motd");
    let v = body("COPY <<one <<two /dir/\n1\none\n2\ntwo\n");
    let Kind::Copy(c) = &v[0].kind else {
        panic!("{v:?}")
    };
    assert_eq!(c.sources.len(), 2);
}

#[test]
fn heredoc_only_for_run_copy_add() {
    let v = body("LABEL a=<<EOF\nUSER x\n");
    assert_eq!(v.len(), 2);
    // `<<` inside quotes or as a here-string is no heredoc.
    let v = body("RUN echo '<<EOF'\nRUN cat <<<word\n");
    assert_eq!(v.len(), 2);
}

#[test]
fn onbuild_heredoc() {
    let v = body("ONBUILD RUN <<EOF\nx\nEOF\n");
    let Kind::Onbuild(i) = &v[0].kind else {
        panic!("{v:?}")
    };
    let Kind::Run(r) = &i.kind else {
        panic!("{i:?}")
    };
    assert_eq!(r.heredocs, vec![heredoc("EOF", "x\n", true, false)]);
}

#[test]
fn unterminated_heredoc() {
    assert_eq!(
        err("FROM scratch\nRUN <<EOF\necho\n"),
        "Dockerfile:2:1: unterminated heredoc"
    );
}

#[test]
fn heredoc_as_destination_is_refused() {
    assert_eq!(
        err("FROM scratch\nCOPY a <<EOF\nx\nEOF\n"),
        "Dockerfile:2:6: COPY cannot accept a heredoc as a destination"
    );
}
