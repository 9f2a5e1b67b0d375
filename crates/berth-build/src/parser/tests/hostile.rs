//! Hostile input: random bytes, truncated files, deep nesting, huge inputs. The parser
//! must answer (a value or an error), never panic, and stay within its bounds.

use super::*;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap_or(1)).unwrap_or(0)
    }
}

const SAMPLE: &str = r#"# syntax=docker/dockerfile:1
# escape=\
ARG BASE=busybox
FROM --platform=$BUILDPLATFORM ${BASE:-busybox} AS build
ENV A=1 B="two words" C=${A:+set}
LABEL org.example="x y" other=z
RUN --mount=type=cache,target=/c --network=none set -e; \
    # a comment inside
    echo $A \
    && echo done
RUN <<EOF cat > /a && <<-'B' cat > /b
line $A
EOF
	tab
	B
COPY --from=build --chown=1:1 --chmod=0644 --link --exclude=*.md ["a b", "/c/"]
COPY <<EOF /etc/motd
hi
EOF
ADD --checksum=sha256:00 https://example.com/a.tgz /x/
EXPOSE 80/tcp 53/udp
USER nobody
WORKDIR /w/${A}
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=3 CMD ["true"]
SHELL ["/bin/sh", "-c"]
ONBUILD RUN echo child
MAINTAINER someone
CMD ["sh"]
ENTRYPOINT exec sh
FROM build
"#;

/// Parse, and expand every instruction that parsed: neither may panic.
fn exercise(text: &str) {
    let env = vec![
        ("A".to_string(), "1".to_string()),
        ("BASE".to_string(), String::new()),
    ];
    if let Ok(d) = parse("Dockerfile", text) {
        for s in &d.stages {
            let _ = s.expand_base("Dockerfile", d.directives.escape, &env);
            for i in &s.instructions {
                let _ = i.expand("Dockerfile", d.directives.escape, &env);
            }
        }
    }
}

#[test]
fn sample_parses_and_expands() {
    let d = p(SAMPLE);
    assert_eq!(d.stages.len(), 2);
    assert_eq!(d.stages[0].instructions.len(), 18);
    let env = vec![("A".to_string(), "1".to_string())];
    let (image, platform) = d.stages[0].expand_base("Dockerfile", '\\', &env).unwrap();
    assert_eq!((image.as_str(), platform.as_deref()), ("busybox", Some("")));
    let Kind::Run(r) = &d.stages[0].instructions[3].kind else {
        panic!()
    };
    assert_eq!(r.heredocs.len(), 2);
    assert_eq!(r.heredocs[1].content, "tab\n");
    assert!(!r.heredocs[1].expand);
}

#[test]
fn every_truncation_of_a_full_dockerfile() {
    for (i, _) in SAMPLE.char_indices() {
        exercise(&SAMPLE[..i]);
    }
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next().to_le_bytes()[0]).collect();
        if let Ok(d) = parse_bytes("Dockerfile", &bytes) {
            assert!(!d.stages.is_empty());
        }
    }
}

#[test]
fn random_dockerfile_soup() {
    // Pieces that matter to the parser, shuffled into lines.
    const PIECES: [&str; 40] = [
        "FROM",
        "RUN",
        "COPY",
        "ADD",
        "ENV",
        "ARG",
        "LABEL",
        "ONBUILD",
        "HEALTHCHECK",
        "SHELL",
        "VOLUME",
        "CMD",
        " ",
        "\t",
        "\n",
        "\\\n",
        "`",
        "#",
        "# escape=`\n",
        "<<EOF",
        "<<-\"E\"",
        "EOF\n",
        "\tE\n",
        "[",
        "]",
        "\"",
        "'",
        ",",
        "=",
        "--from=",
        "--mount=",
        "--link",
        "${A:-",
        "}",
        "$",
        "${",
        "a",
        "AS",
        "NONE",
        "--interval=1s",
    ];
    let mut rng = Rng(42);
    for _ in 0..5000 {
        let n = rng.below(40);
        let text: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        exercise(&text);
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}x{}", "${A:-".repeat(10_000), "}".repeat(10_000));
    let d = p(&format!("FROM scratch\nWORKDIR {deep}\n"));
    let empty: &[(String, String)] = &[];
    let e = d.stages[0].instructions[0]
        .expand("Dockerfile", '\\', empty)
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("substitutions nested deeper than 64"),
        "{e}"
    );
}

#[test]
fn sizes_are_bounded() {
    let big = "#".repeat(MAX_SIZE + 1);
    assert!(matches!(
        parse("Dockerfile", &big).unwrap_err().kind,
        ErrorKind::TooLarge { .. }
    ));
    assert!(matches!(
        parse_bytes("Dockerfile", big.as_bytes()).unwrap_err().kind,
        ErrorKind::TooLarge { .. }
    ));
    let many = format!("FROM scratch\n{}", "RUN x\n".repeat(MAX_INSTRUCTIONS));
    assert_eq!(
        parse("Dockerfile", &many).unwrap_err().kind,
        ErrorKind::TooManyInstructions(MAX_INSTRUCTIONS)
    );
}

#[test]
fn long_lines_and_many_heredocs() {
    let long = format!("FROM scratch\nRUN {}\n", "a".repeat(1 << 20));
    assert_eq!(p(&long).stages[0].instructions.len(), 1);
    let heads: String = (0..2000).map(|i| format!(" <<H{i}")).collect();
    let bodies: String = (0..2000).map(|i| format!("x\nH{i}\n")).collect();
    let d = p(&format!("FROM scratch\nRUN cat{heads}\n{bodies}"));
    let Kind::Run(r) = &d.stages[0].instructions[0].kind else {
        panic!()
    };
    assert_eq!(r.heredocs.len(), 2000);
}
