//! The executor over a container's inspect data: every expected output and error below is
//! what the docker 28.2 CLI printed for `docker inspect -f TEMPLATE` on a container with
//! the same data (`create --name t1 -l a=b -l c=d -e X=1 busybox sleep 1000`, started;
//! `--cpus 1.5` for NanoCpus).

use serde_json::{Value, json};

use super::run;

fn container() -> Value {
    json!({
        "Name": "/t1",
        "Config": {
            "Cmd": ["sleep", "1000"],
            "Labels": {"a": "b", "c": "d"},
            "Env": ["X=1"],
            "Healthcheck": null,
            "Image": "busybox",
            "Tty": false,
        },
        "State": {"Status": "running", "Running": true, "ExitCode": 0, "Pid": 4242},
        "HostConfig": {
            "Memory": 0,
            "ShmSize": 67108864,
            "Binds": null,
            "NanoCpus": 1500000000,
            "CpuShares": 0,
            "Dns": [],
        },
        "Mounts": [],
    })
}

const CASES: &[(&str, Result<&str, &str>)] = &[
    (r#"{{.Name}}"#, Ok(r#"/t1"#)),
    (r#"{{.Config.Cmd}}"#, Ok(r#"[sleep 1000]"#)),
    (r#"{{.Config.Labels}}"#, Ok(r#"map[a:b c:d]"#)),
    (r#"{{.Config.Labels.a}}"#, Ok(r#"b"#)),
    (r#"{{.Config.Labels.zz}}"#, Ok(r#"<no value>"#)),
    (r#"{{index .Config.Labels "c"}}"#, Ok(r#"d"#)),
    (r#"{{index .Config.Labels "zz"}}"#, Ok(r#""#)),
    (r#"{{index .Config.Cmd 1}}"#, Ok(r#"1000"#)),
    (
        r#"{{index .Config.Cmd 5}}"#,
        Err(
            r#"template: :1:2: executing "" at <index .Config.Cmd 5>: error calling index: index out of range: 5"#,
        ),
    ),
    (r#"{{(index .Config.Cmd 0)}}"#, Ok(r#"sleep"#)),
    (
        r#"{{len .Config.Cmd}} {{len .Config.Labels}} {{len .Name}}"#,
        Ok(r#"2 2 3"#),
    ),
    (r#"{{if eq .State.Status "running"}}R{{end}}"#, Ok(r#"R"#)),
    (
        r#"{{if eq .State.Status "exited"}}E{{else if .State.Running}}run{{else}}other{{end}}"#,
        Ok(r#"run"#),
    ),
    (
        r#"{{if not .State.Running}}stopped{{else}}up{{end}}"#,
        Ok(r#"up"#),
    ),
    (
        r#"{{eq .State.Status "exited" "dead" "running"}}"#,
        Ok(r#"true"#),
    ),
    (
        r#"{{ne .State.ExitCode 0}} {{lt .State.ExitCode 1}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}}"#,
        Ok(r#"false true true true false"#),
    ),
    (r#"{{eq .State.ExitCode 0}}"#, Ok(r#"true"#)),
    (r#"{{eq .State.ExitCode "0"}}"#, Ok(r#"true"#)),
    (
        r#"{{lt 1 2.5}}"#,
        Err(
            r#"template: :1:2: executing "" at <lt 1 2.5>: error calling lt: incompatible types for comparison"#,
        ),
    ),
    (
        r#"{{lt "a" 1}}"#,
        Err(
            r#"template: :1:2: executing "" at <lt "a" 1>: error calling lt: incompatible types for comparison"#,
        ),
    ),
    (
        r#"{{eq .Config.Cmd .Config.Cmd}}"#,
        Err(
            r#"template: :1:2: executing "" at <eq .Config.Cmd .Config.Cmd>: error calling eq: non-comparable type [sleep 1000]: []interface {}"#,
        ),
    ),
    (
        r#"{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{not 0}} {{not "a"}}"#,
        Ok(r#"0 2 x  true false"#),
    ),
    (
        r#"{{range .Config.Cmd}}[{{.}}]{{end}}"#,
        Ok(r#"[sleep][1000]"#),
    ),
    (
        r#"{{range $i, $v := .Config.Cmd}}{{$i}}:{{$v}} {{end}}"#,
        Ok(r#"0:sleep 1:1000 "#),
    ),
    (
        r#"{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"#,
        Ok(r#"a=b;c=d;"#),
    ),
    (
        r#"{{range .Config.Env}}{{.}}{{else}}none{{end}}"#,
        Ok(r#"X=1"#),
    ),
    (
        r#"{{range .Mounts}}{{.}}{{else}}no mounts{{end}}"#,
        Ok(r#"no mounts"#),
    ),
    (
        r#"{{range .Config.Cmd}}{{if eq . "sleep"}}{{continue}}{{end}}{{.}}{{end}}"#,
        Ok(r#"1000"#),
    ),
    (
        r#"{{range .Config.Cmd}}{{.}}{{break}}{{end}}"#,
        Ok(r#"sleep"#),
    ),
    (
        r#"{{range $i, $c := .Config.Cmd}}{{if $i}},{{end}}{{$c}}{{end}}"#,
        Ok(r#"sleep,1000"#),
    ),
    (r#"{{with .Config.Labels.a}}a={{.}}{{end}}"#, Ok(r#"a=b"#)),
    (
        r#"{{with .Config.Labels.zz}}zz={{.}}{{else}}no zz{{end}}"#,
        Ok(r#"no zz"#),
    ),
    (r#"{{with $x := .Name}}{{$x}}{{end}}"#, Ok(r#"/t1"#)),
    (r#"{{$x := 1}}{{$x = 2}}{{$x}}"#, Ok(r#"2"#)),
    (
        r#"{{$n := .Name}}{{range .Config.Cmd}}{{$n}}{{end}}"#,
        Ok(r#"/t1/t1"#),
    ),
    (r#"{{range .Config.Cmd}}{{$.Name}}{{end}}"#, Ok(r#"/t1/t1"#)),
    (r#"{{/* comment */}}x"#, Ok(r#"x"#)),
    (r#"a {{- " b " -}} c"#, Ok(r#"a b c"#)),
    (r#"a   {{- /* trimmed */ -}}   b"#, Ok(r#"ab"#)),
    (
        r#"{{define "x"}}[{{.}}]{{end}}{{template "x" .Name}}"#,
        Ok(r#"[/t1]"#),
    ),
    (
        r#"{{block "y" .Config.Cmd}}<{{len .}}>{{end}}"#,
        Ok(r#"<2>"#),
    ),
    (
        r#"{{template "z"}}"#,
        Err(r#"template: :1:11: executing "" at <{{template "z"}}>: template "z" not defined"#),
    ),
    (r#"{{.Name | printf "%s!" | upper}}"#, Ok(r#"/T1!"#)),
    (
        r#"{{printf "%s %d %v %q %t" .Name .State.ExitCode .Config.Cmd .Name .State.Running}}"#,
        Ok(r#"/t1 0 [sleep 1000] "/t1" true"#),
    ),
    (
        r#"{{printf "%-10s|%10s|%5.2f|%x|%X|%o|%e" "ab" "cd" 3.14159 255 255 8 1234.5}}"#,
        Ok(r#"ab        |        cd| 3.14|ff|FF|10|1.234500e+03"#),
    ),
    (
        r#"{{printf "%05d|%+d|% d|%-5d|" 42 42 42 42}}"#,
        Ok(r#"00042|+42| 42|42   |"#),
    ),
    (
        r#"{{printf "%v %v" .Config.Labels .HostConfig.Memory}}"#,
        Ok(r#"map[a:b c:d] 0"#),
    ),
    (r#"{{printf "%d" "x"}}"#, Ok(r#"%!d(string=x)"#)),
    (r#"{{printf "%s"}}"#, Ok(r#"%!s(MISSING)"#)),
    (r#"{{printf "%s" 1 2}}"#, Ok(r#"%!s(int=1)%!(EXTRA int=2)"#)),
    (
        r#"{{printf "%T %T %T %T" 1 "a" .Config.Cmd .State.Running}}"#,
        Ok(r#"int string strslice.StrSlice bool"#),
    ),
    (r#"{{printf "%6.2f%%" 12.345}}"#, Ok(r#" 12.35%"#)),
    (r#"{{printf "%x" "hi"}}"#, Ok(r#"6869"#)),
    (r#"{{printf "%q" .Config.Cmd}}"#, Ok(r#"["sleep" "1000"]"#)),
    (r#"{{printf "%v" .Config.Healthcheck}}"#, Ok(r#"<nil>"#)),
    (r#"{{print 1 2 "a" "b" 3 true}}"#, Ok(r#"1 2ab3 true"#)),
    (
        r#"{{println "a" 1}}"#,
        Ok(r#"a 1
"#),
    ),
    (r#"{{print nil}}"#, Ok(r#"<nil>"#)),
    (
        r#"{{json .Config.Cmd}} {{json .Config.Labels}} {{json .State.ExitCode}}"#,
        Ok(r#"["sleep","1000"] {"a":"b","c":"d"} 0"#),
    ),
    (r#"{{json "<a>&"}}"#, Ok(r#""<a>&""#)),
    (r#"{{json .Config.Healthcheck}}"#, Ok(r#"null"#)),
    (r#"{{join .Config.Cmd ", "}}"#, Ok(r#"sleep, 1000"#)),
    (
        r#"{{split "a:b:c" ":"}} {{len (split "a:b:c" ":")}}"#,
        Ok(r#"[a b c] 3"#),
    ),
    (
        r#"{{title "hello world"}} {{upper "abc"}} {{lower "ABC"}}"#,
        Ok(r#"Hello World ABC abc"#),
    ),
    (
        r#"{{pad "x" 2 3}}|{{truncate "abcdef" 3}}|{{truncate "ab" 5}}"#,
        Ok(r#"  x   |abc|ab"#),
    ),
    (
        r#"{{slice .Name 1}} {{slice .Name 1 2}} {{slice .Config.Cmd 1}}"#,
        Ok(r#"t1 t [1000]"#),
    ),
    (
        r#"{{slice .Name 5}}"#,
        Err(
            r#"template: :1:2: executing "" at <slice .Name 5>: error calling slice: index out of range: 5"#,
        ),
    ),
    (
        r#"{{html "<a href='x'>&</a>"}} {{js "it's \"q\" <b>"}} {{urlquery "a b&c=d/e"}}"#,
        Ok(
            r#"&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; it\'s \"q\" \u003Cb\u003E a+b%26c%3Dd%2Fe"#,
        ),
    ),
    (r#"{{.Config.Healthcheck}}"#, Ok(r#"<nil>"#)),
    (r#"{{.HostConfig.Binds}}"#, Ok(r#"[]"#)),
    (r#"{{.Mounts}}"#, Ok(r#"[]"#)),
    (
        r#"{{.HostConfig.Memory}} {{.HostConfig.ShmSize}}"#,
        Ok(r#"0 67108864"#),
    ),
    (r#"{{.State.Pid | printf "%T"}}"#, Ok(r#"int"#)),
    (
        r#"{{1.5}} {{1e3}} {{0x10}} {{-3}} {{'a'}} {{"a\tb"}} {{`raw`}}"#,
        Ok(r#"1.5 1000 16 -3 97 a	b raw"#),
    ),
    (
        r#"{{.Nope}}"#,
        Err(r#"template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope""#),
    ),
    (
        r#"{{.Config.Nope}}"#,
        Err(r#"template: :1:9: executing "" at <.Config.Nope>: map has no entry for key "Nope""#),
    ),
    (
        r#"{{.Name.Nope}}"#,
        Err(
            r#"template: :1:7: executing "" at <.Name.Nope>: can't evaluate field Nope in type interface {}"#,
        ),
    ),
    (r#"{{index .Name 0}}"#, Ok(r#"47"#)),
    (
        r#"{{nil}}"#,
        Err(r#"template: :1:2: executing "" at <nil>: nil is not a command"#),
    ),
    (r#"{{.Name"#, Err(r#"template: :1: unclosed action"#)),
    (
        r#"{{if}}{{end}}"#,
        Err(r#"template: :1: missing value for if"#),
    ),
    (
        r#"{{range .Config.Cmd}}"#,
        Err(r#"template: :1: unexpected EOF"#),
    ),
    (r#"{{end}}"#, Err(r#"template: :1: unexpected {{end}}"#)),
    (r#"{{else}}"#, Err(r#"template: :1: unexpected {{else}}"#)),
    (r#"{{$y}}"#, Err(r#"template: :1: undefined variable "$y""#)),
    (
        r#"{{nosuchfunc 1}}"#,
        Err(r#"template: :1: function "nosuchfunc" not defined"#),
    ),
    (r#"{{.Name | len | printf "%d"}}"#, Ok(r#"3"#)),
    (
        r#"{{break}}"#,
        Err(r#"template: :1: {{break}} outside {{range}}"#),
    ),
    (
        r#"{{"unterminated}}"#,
        Err(r#"template: :1: unterminated quoted string"#),
    ),
    (
        r#"{{( .Name}}"#,
        Err(r#"template: :1: unclosed left paren"#),
    ),
    (
        r#"{{.Name)}}"#,
        Err(r#"template: :1: unexpected right paren"#),
    ),
    (
        r#"{{template "x" .}}"#,
        Err(r#"template: :1:11: executing "" at <{{template "x" .}}>: template "x" not defined"#),
    ),
    (
        r#"{{len 3}}"#,
        Err(r#"template: :1:2: executing "" at <len 3>: error calling len: len of type int"#),
    ),
    (
        r#"{{index .Config.Labels 1}}"#,
        Err(
            r#"template: :1:2: executing "" at <index .Config.Labels 1>: error calling index: value has type int; should be string"#,
        ),
    ),
    (
        r#"{{index 3 1}}"#,
        Err(
            r#"template: :1:2: executing "" at <index 3 1>: error calling index: can't index item of type int"#,
        ),
    ),
    (
        r#"{{not}}"#,
        Err(r#"template: :1:2: executing "" at <not>: wrong number of args for not: want 1 got 0"#),
    ),
    (
        r#"{{eq}}"#,
        Err(
            r#"template: :1:2: executing "" at <eq>: wrong number of args for eq: want at least 1 got 0"#,
        ),
    ),
    (
        r#"{{and}}"#,
        Err(
            r#"template: :1:2: executing "" at <and>: wrong number of args for and: want at least 1 got 0"#,
        ),
    ),
    (r#"{{3 | printf "%d %d" 4}}"#, Ok(r#"4 3"#)),
    (
        r#"{{.Config.Labels.a.b}}"#,
        Err(
            r#"template: :1:9: executing "" at <.Config.Labels.a.b>: can't evaluate field b in type interface {}"#,
        ),
    ),
    (
        r#"{{with .Config.Cmd}}{{index . 0}}{{end}}"#,
        Ok(r#"sleep"#),
    ),
    (
        r#"{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}"#,
        Ok(r#"ok"#),
    ),
    (
        r#"{{if or (eq .State.Status "a") (eq .State.Status "running")}}ok{{end}}"#,
        Ok(r#"ok"#),
    ),
    (
        r#"{{range $k, $v := .Config.Labels}}{{if eq $k "c"}}{{break}}{{end}}{{$k}}{{end}}"#,
        Ok(r#"a"#),
    ),
    (r#"{{range 3}}{{.}}{{end}}"#, Ok(r#"012"#)),
    (
        r#"{{js.HostConfig.Memory }}"#,
        Err(
            r#"template: :1:2: executing "" at <js>: can't evaluate field HostConfig in type string"#,
        ),
    ),
    (
        r#"{{(js .Name).X}}"#,
        Err(r#"template: :1:6: executing "" at <.Name>: can't evaluate field X in type string"#),
    ),
    (
        r#"{{(index .Config.Cmd 0).X}}"#,
        Err(r#"template: :1:21: executing "" at <0>: can't evaluate field X in type string"#),
    ),
    (
        r#"{{(printf "a").X}}"#,
        Err(r#"template: :1:10: executing "" at <"a">: can't evaluate field X in type string"#),
    ),
    (
        r#"{{(.Name).X}}"#,
        Err(r#"template: :1:3: executing "" at <.Name>: can't evaluate field X in type string"#),
    ),
    (
        r#"{{$x := .Name}}{{$x.X}}"#,
        Err(r#"template: :1:19: executing "" at <$x.X>: can't evaluate field X in type string"#),
    ),
    (
        r#"{{$.Name.X}}"#,
        Err(
            r#"template: :1:3: executing "" at <$.Name.X>: can't evaluate field X in type interface {}"#,
        ),
    ),
    (
        r#"{{01e3-2}}"#,
        Err(r#"template: :1: bad number syntax: "01e3-2""#),
    ),
    (r#"{{printf "%*d" 2000000 1}}"#, Ok(r#"%!(BADWIDTH)1"#)),
    (
        r#"{{printf "%99999999999d|%s" 1 "a"}}"#,
        Ok(r#"%!(NOVERB)%!(EXTRA int=1, string=a)"#),
    ),
    (r#"{{printf "%.70000g" 1.5}}"#, Ok(r#"1.5"#)),
    (
        r#"{{printf "%.3f %8.2e %g %.3g" 3.14159 1234.5 0.000012 1234.5}}"#,
        Ok(r#"3.142 1.23e+03 1.2e-05 1.23e+03"#),
    ),
    (
        r#"{{len .Nope}}"#,
        Err(r#"template: :1:6: executing "" at <.Nope>: map has no entry for key "Nope""#),
    ),
    (
        r#"{{upper 1}}"#,
        Err(r#"template: :1:8: executing "" at <1>: expected string; found 1"#),
    ),
    (
        r#"{{index .Config.Labels 1}}"#,
        Err(
            r#"template: :1:2: executing "" at <index .Config.Labels 1>: error calling index: value has type int; should be string"#,
        ),
    ),
    (r#"{{printf "%d" (len .Config.Cmd) | len}}"#, Ok(r#"1"#)),
    // Go names some fields otherwise than their JSON keys (NanoCPUs, json:"NanoCpus"):
    // the JSON key fails over the typed data, and the raw data holds json.Numbers.
    (
        r#"{{gt .HostConfig.NanoCpus 0}}"#,
        Err(
            r#"template: :1:2: executing "" at <gt .HostConfig.NanoCpus 0>: error calling gt: incompatible types for comparison"#,
        ),
    ),
    (r#"{{gt .HostConfig.NanoCPUs 0}}"#, Ok(r#"true"#)),
    (
        r#"{{printf "%T" .HostConfig.CpuShares}}"#,
        Ok(r#"json.Number"#),
    ),
    (
        r#"{{printf "%d" .HostConfig.NanoCpus}}"#,
        Ok(r#"%!d(json.Number=1500000000)"#),
    ),
    (
        r#"{{.HostConfig.NanoCPUs}} {{.HostConfig.CPUShares}}"#,
        Ok(r#"1500000000 0"#),
    ),
    (
        r#"{{printf "%T" .HostConfig.Dns}} {{.HostConfig.DNS}}"#,
        Err(
            r#"template: :1:45: executing "" at <.HostConfig.DNS>: map has no entry for key "DNS""#,
        ),
    ),
    // Unicode: quoting, escaping, case mapping and padding as Go does them.
    (
        r#"{{printf "%x %X % x %q %+q %U %c" "é" "é" "日本" "日本\x01" "é" 233 233}}"#,
        Ok(r#"c3a9 C3A9 e6 97 a5 e6 9c ac "日本\x01" "\u00e9" U+00E9 é"#),
    ),
    (
        r#"{{js "日本\u2028<\u00ad"}}"#,
        Ok(r#"日本\u2028\u003C\u00AD"#),
    ),
    (
        r#"{{upper "straße"}} {{lower "İA"}} {{title "ßa"}}"#,
        Ok(r#"STRAßE ia ßa"#),
    ),
    (
        r#"{{printf "%08.3s|%x|%05q|%-05s|" "abc" -255 "a" "b"}}"#,
        Ok(r#"00000abc|-ff|00"a"|b    |"#),
    ),
    (
        r#"{{printf "%#x %#o %#v %#q %#q %+q" 255 8 "a" "b" "c`d" "日\U0001F600"}}"#,
        Ok(r#"0xff 010 "a" `b` "c`d" "\u65e5\U0001f600""#),
    ),
    (
        r#"{{printf "%q" "a\u00a0b\u200bc\u2028"}}"#,
        Ok(r#""a\u00a0b\u200bc\u2028""#),
    ),
    (
        r#"{{printf "%q %+q" "😀" "😀"}}"#,
        Ok(r#""😀" "\U0001f600""#),
    ),
    (
        r#"{{index "héllo" 1}} {{len "日本"}} {{pad "日" 1 1}} {{html "日<"}} {{urlquery "日 本"}}"#,
        Ok(r#"195 6  日  日&lt; %E6%97%A5+%E6%9C%AC"#),
    ),
    (
        r#"{{printf "%5s|%-5s|%.1s" "日本" "é" "日本"}}"#,
        Ok(r#"   日本|é    |日"#),
    ),
    // printf as Go's fmt: argument indexes, flags on bad verbs, hex and binary floats,
    // `#`, zero padding, composites formatted element by element.
    (r#"{{printf "%[2]d %[1]s %d" "a" 5 6}}"#, Ok(r#"5 a 5"#)),
    (
        r#"{{printf "%[3]d|%[0]d|%[x]d|%[1]*d|%-[1]d" 1 2}}"#,
        Ok(r#"%!d(BADINDEX)|%!d(BADINDEX)|%!d(BADINDEX)|2|1"#),
    ),
    (
        r#"{{printf "%[1]*.[2]*[3]f" 8 2 3.14159}}"#,
        Ok(r#"    3.14"#),
    ),
    (
        r#"{{printf "% 8.5f|%.0f|%-8.3s|" true "héllo" "abcdef"}}"#,
        Ok(r#"%!f(bool=    true)|%!f(string=)|abc     |"#),
    ),
    (
        r#"{{printf "%#8.2x|%x|%X|%.3x|%x|%b|%b" -2.25 0.1 1e-7 1.0 5e-324 0.1 0.0}}"#,
        Ok(
            r#"-0x1.20p+01|0x1.999999999999ap-04|0X1.AD7F29ABCAF48P-24|0x1.000p+00|0x1p-1074|7205759403792794p-56|0p-1074"#,
        ),
    ),
    (
        r#"{{printf "%#g %#g %#.3g %#e %#.0f %#g" 1.5 100000.0 2.0 2.0 3.0 0.0}}"#,
        Ok(r#"1.50000 100000. 2.00 2.000000e+00 3. 0.00000"#),
    ),
    (
        r#"{{printf "%08U|%#U|%.2T|%5T|%c|%+q" 65 233 "a" 1 -1 233}}"#,
        Ok(r#"  U+0041|U+00E9 'é'|st|  int|�|'\u00e9'"#),
    ),
    (
        r#"{{printf "%5v|%-4d|%x" .Config.Cmd .Config.Cmd .Config.Labels}}"#,
        Ok(r#"[sleep  1000]|[%!d(string=sleep) %!d(string=1000)]|map[61:62 63:64]"#),
    ),
    (
        r#"{{printf "%08s|%08q|%-08s|%08v" "ab" "c" "d" true}}"#,
        Ok(r#"000000ab|00000"c"|d       |0000true"#),
    ),
    (
        r#"{{printf "%+v|%+d|%#v|%#q|%+.1e" 5 5 "s" "b" 12345.678}}"#,
        Ok(r#"5|+5|"s"|`b`|+1.2e+04"#),
    ),
    (r#"{{printf "%#.0x|%.0d|%5.0d|" 0 0 0}}"#, Ok(r#"||     |"#)),
    (
        r#"{{printf "%!|%z|%" 1 2}}"#,
        Ok(r#"%!!(int=1)|%!z(int=2)|%!(NOVERB)"#),
    ),
];

#[test]
fn inspect_templates_as_docker() {
    let v = container();
    let mut failed = Vec::new();
    for (t, want) in CASES {
        let got = run(t, &v);
        let got = got.as_ref().map(String::as_str).map_err(String::as_str);
        if got != *want {
            failed.push(format!("{t}\n  got:  {got:?}\n  want: {want:?}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Hostile templates end in an error, not a crash: nesting past Berth's limits (Go has
/// none, and docker's CLI itself overflows its stack on some), recursion, huge widths.
#[test]
fn hostile_templates_fail_cleanly() {
    // The main thread's stack, as the `berth` binary runs templates.
    let t = std::thread::Builder::new().stack_size(8 << 20).spawn(|| {
        let v = container();
        let ifs = |n: usize| format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n));
        let deep = run(&ifs(5000), &v).unwrap_err();
        assert!(deep.contains("max nesting depth exceeded"), "{deep}");
        assert_eq!(run(&ifs(99), &v).as_deref(), Ok("x"));
        let chain = format!("{{{{if 0}}}}{}{{{{end}}}}", "{{else if 0}}".repeat(5000));
        assert!(run(&chain, &v).is_err());
        let parens = format!("{{{{{}.Name{}}}}}", "(".repeat(5000), ")".repeat(5000));
        assert!(run(&parens, &v).is_err());
        let rec = format!(
            "{{{{define \"a\"}}}}{}{{{{template \"a\"}}}}{}{{{{end}}}}{{{{template \"a\"}}}}",
            "{{if 1}}".repeat(99),
            "{{end}}".repeat(99)
        );
        let rec = run(&rec, &v).unwrap_err();
        assert!(rec.contains("exceeded maximum template depth"), "{rec}");
        let wide = run(r#"{{printf "%.1000001f" 1.0}}"#, &v).unwrap_or_default();
        assert_eq!(wide.len(), 1_000_003);
    });
    assert!(t.is_ok_and(|h| h.join().is_ok()));
}
