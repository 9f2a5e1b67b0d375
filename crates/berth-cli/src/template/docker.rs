//! What docker's commands add to Go templates: the Go types behind each command's data (as
//! [`Schema`]s), `inspect`'s fallback to the raw JSON, and the header row of `table`
//! formats (the template run over column titles with docker's header functions).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{Error, HEADER_FUNCS, NilKind, Schema, Template, Val, Zero};

/// Object keys that are Go maps in docker's API types (missing keys are `<no value>`).
const MAPS: &[&str] = &[
    "Labels",
    "Options",
    "Volumes",
    "ExposedPorts",
    "Ports",
    "PortBindings",
    "Tmpfs",
    "Sysctls",
    "StorageOpt",
    "DriverOpts",
    "Annotations",
    "Networks",
    "LogConfig.Config",
    "GraphDriver.Data",
    "Status",
    "Attributes",
    "Details",
];

/// Keys whose null is a nil slice (prints `[]`).
const SLICES: &[&str] = &[
    "Cmd",
    "Entrypoint",
    "Env",
    "Shell",
    "OnBuild",
    "Binds",
    "Links",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "CapAdd",
    "CapDrop",
    "GroupAdd",
    "SecurityOpt",
    "VolumesFrom",
    "Devices",
    "DeviceRequests",
    "DeviceCgroupRules",
    "BlkioWeightDevice",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "Ulimits",
    "MaskedPaths",
    "ReadonlyPaths",
    "ExecIDs",
    "Aliases",
    "DNSNames",
    "SecondaryIPAddresses",
    "SecondaryIPv6Addresses",
    "RepoTags",
    "RepoDigests",
    "Layers",
    "Mounts",
    "Args",
    "Log",
    "Ports.*",
];

/// Fields of docker's inspect types that its JSON leaves out when empty.
const INSPECT_OMITTED: &[(&str, Zero)] = &[
    ("Config.Healthcheck", Zero::Nil(NilKind::Ptr)),
    ("Config.ExposedPorts", Zero::Nil(NilKind::Map)),
    ("Config.ArgsEscaped", Zero::Bool),
    ("Config.NetworkDisabled", Zero::Bool),
    ("Config.MacAddress", Zero::Str),
    ("Config.StopSignal", Zero::Str),
    ("Config.StopTimeout", Zero::Nil(NilKind::Ptr)),
    ("Config.Shell", Zero::Nil(NilKind::Slice)),
    ("State.Health", Zero::Nil(NilKind::Ptr)),
    ("HostConfig.Annotations", Zero::Nil(NilKind::Map)),
    ("HostConfig.Init", Zero::Nil(NilKind::Ptr)),
    ("HostConfig.Mounts", Zero::Nil(NilKind::Slice)),
    ("SizeRw", Zero::Nil(NilKind::Ptr)),
    ("SizeRootFs", Zero::Nil(NilKind::Ptr)),
    ("Node", Zero::Nil(NilKind::Ptr)),
    ("Parent", Zero::Str),
    ("Comment", Zero::Str),
    ("Container", Zero::Str),
    ("ContainerConfig", Zero::Nil(NilKind::Ptr)),
    ("DockerVersion", Zero::Str),
    ("Author", Zero::Str),
    ("Variant", Zero::Str),
    ("UsageData", Zero::Nil(NilKind::Ptr)),
];

/// `time.Duration` fields of docker's inspect types (health checks).
const DURATIONS: &[&str] = &[
    "Healthcheck.Interval",
    "Healthcheck.Timeout",
    "Healthcheck.StartPeriod",
    "Healthcheck.StartInterval",
];

const fn typed(type_name: &'static str) -> Schema {
    Schema {
        type_name,
        maps: MAPS,
        slices: SLICES,
        omitted: INSPECT_OMITTED,
        types: &[],
        methods: &[],
        raw: false,
        root_map: false,
        html_json: false,
        renamed: RENAMED,
        structs: STRUCTS,
        methods_only: false,
        durations: DURATIONS,
    }
}

/// docker's structs that print as Go structs, with their fields in Go's order (structs
/// holding non-nil pointers print addresses in Go and are left as maps); `&` marks a
/// pointer to the struct, which printf writes as `&{...}`.
const STRUCTS: &[(&str, &[(&str, Zero)])] = &[
    (
        "Mounts.[]",
        &[
            ("Type", Zero::Str),
            ("Name", Zero::Str),
            ("Source", Zero::Str),
            ("Destination", Zero::Str),
            ("Driver", Zero::Str),
            ("Mode", Zero::Str),
            ("RW", Zero::Bool),
            ("Propagation", Zero::Str),
        ],
    ),
    // A container's state (its Health is a pointer: <nil> when absent, as here; Go
    // prints an address otherwise).
    (
        "&State",
        &[
            ("Status", Zero::Str),
            ("Running", Zero::Bool),
            ("Paused", Zero::Bool),
            ("Restarting", Zero::Bool),
            ("OOMKilled", Zero::Bool),
            ("Dead", Zero::Bool),
            ("Pid", Zero::Int),
            ("ExitCode", Zero::Int),
            ("Error", Zero::Str),
            ("StartedAt", Zero::Str),
            ("FinishedAt", Zero::Str),
            ("Health", Zero::Nil(NilKind::Ptr)),
        ],
    ),
    (
        "RestartPolicy",
        &[("Name", Zero::Str), ("MaximumRetryCount", Zero::Int)],
    ),
    (
        "LogConfig",
        &[("Type", Zero::Str), ("Config", Zero::Nil(NilKind::Map))],
    ),
    (
        "GraphDriver",
        &[("Data", Zero::Nil(NilKind::Map)), ("Name", Zero::Str)],
    ),
    (
        "RootFS",
        &[("Type", Zero::Str), ("Layers", Zero::Nil(NilKind::Slice))],
    ),
    // Port bindings, in the maps of Ports and PortBindings.
    ("*.[]", &[("HostIp", Zero::Str), ("HostPort", Zero::Str)]),
    // struct{} values of ExposedPorts and Volumes.
    ("ExposedPorts.*", &[]),
    ("Volumes.*", &[]),
];

/// Fields of docker's API types whose Go names differ from their JSON keys.
const RENAMED: &[(&str, &str)] = &[
    ("Id", "ID"),
    ("CpuShares", "CPUShares"),
    ("NanoCpus", "NanoCPUs"),
    ("CpuPeriod", "CPUPeriod"),
    ("CpuQuota", "CPUQuota"),
    ("CpuRealtimePeriod", "CPURealtimePeriod"),
    ("CpuRealtimeRuntime", "CPURealtimeRuntime"),
    ("CpuCount", "CPUCount"),
    ("CpuPercent", "CPUPercent"),
    ("Dns", "DNS"),
    ("DnsOptions", "DNSOptions"),
    ("DnsSearch", "DNSSearch"),
    ("ApiVersion", "APIVersion"),
    // docker info's
    ("HttpProxy", "HTTPProxy"),
    ("HttpsProxy", "HTTPSProxy"),
    ("CpuCfsPeriod", "CPUCfsPeriod"),
    ("CpuCfsQuota", "CPUCfsQuota"),
    ("BridgeNfIp6tables", "BridgeNfIP6tables"),
];

/// `docker inspect` of a container, an image, a volume (with the raw fallback).
pub const CONTAINER: Schema = typed("container.InspectResponse");
pub const IMAGE: Schema = typed("image.InspectResponse");
/// `system df -v --format`: one value with the four lists of rows.
pub const DF_VERBOSE: Schema = typed("*formatter.diskUsageContext");
/// `docker network inspect` (docker's client reads it as network.Inspect, raw fallback).
pub const NETWORK: Schema = typed("network.Inspect");
/// `docker volume inspect` (no raw fallback: a missing field is an error).
pub const VOLUME: Schema = Schema {
    types: &[("UsageData", "*volume.UsageData")],
    ..typed("volume.Volume")
};
pub const INFO: Schema = Schema {
    types: &[
        ("Swarm", "swarm.Info"),
        ("Plugins", "system.PluginsInfo"),
        ("RegistryConfig", "*registry.ServiceConfig"),
    ],
    ..typed("system.dockerInfo")
};
pub const VERSION: Schema = Schema {
    types: &[
        ("Client", "system.clientVersion"),
        ("Server", "*types.Version"),
    ],
    ..typed("system.versionInfo")
};
pub const EVENT: Schema = Schema {
    types: &[("Actor", "events.Actor")],
    // The message's fields that its JSON may leave out (`omitempty`, or older shapes).
    omitted: &[
        ("Status", Zero::Str),
        ("ID", Zero::Str),
        ("From", Zero::Str),
        ("Scope", Zero::Str),
    ],
    // The message's keys are its Go names in any case (`id` is `.ID`), not inspect's.
    renamed: &[],
    ..typed("*events.Message")
};

/// A list command's row type (every field a string, plus `.Label "key"`).
pub const fn row(type_name: &'static str) -> Schema {
    Schema {
        type_name,
        maps: &["Labels"],
        slices: &[],
        omitted: &[],
        types: &[],
        methods: &[("Label", label)],
        raw: false,
        root_map: false,
        html_json: true,
        renamed: &[],
        structs: &[],
        methods_only: true,
        durations: &[],
    }
}

pub const PS: Schema = row("*formatter.ContainerContext");
pub const IMAGES: Schema = row("*formatter.imageContext");
pub const VOLUMES: Schema = row("*formatter.volumeContext");
pub const HISTORY: Schema = row("*image.historyContext");
pub const STATS: Schema = row("*container.statsContext");
pub const DF: Schema = row("*formatter.diskUsageImagesContext");

/// `.Label "key"` on a row: the label's value, or "" (labels are a map, or docker's
/// "k=v,k2=v2" string).
fn label<'a>(row: &'a Map<String, Value>, args: &[Val<'a>]) -> Result<Val<'a>, String> {
    let key = args.first().and_then(Val::as_str).unwrap_or_default();
    let found = match row.get("Labels") {
        Some(Value::Object(m)) => m.get(key).and_then(Value::as_str).map(str::to_owned),
        Some(Value::String(s)) => s
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned()),
        _ => None,
    };
    Ok(Val::Str(Cow::Owned(found.unwrap_or_default())))
}

/// `.Label "com.example.team-name"` in a header: "team name", as docker's
/// `SubHeaderContext.Label`.
fn header_label<'a>(_: &'a Map<String, Value>, args: &[Val<'a>]) -> Result<Val<'a>, String> {
    let key = args.first().and_then(Val::as_str).unwrap_or_default();
    let last = key.rsplit('.').next().unwrap_or(key);
    Ok(Val::Str(Cow::Owned(last.replace(['-', '_'], " "))))
}

/// The header row's data: a Go `map[string]string` with a `Label` method.
const HEADER: Schema = Schema {
    type_name: "formatter.SubHeaderContext",
    maps: &[],
    slices: &[],
    omitted: &[],
    types: &[],
    methods: &[("Label", header_label)],
    raw: false,
    root_map: true,
    html_json: false,
    renamed: &[],
    structs: &[],
    methods_only: false,
    durations: &[],
};

/// Runs an inspect template: over docker's typed view first, and when that fails (a field
/// the Go type lacks, a comparison of mismatched types), over the raw JSON with
/// `missingkey=error`, as the docker CLI does; the raw run's error is the one reported.
pub fn inspect(
    tmpl: &Template,
    v: &Value,
    schema: &Schema,
    fallback: bool,
) -> Result<String, Error> {
    match tmpl.execute(v, schema) {
        Ok(s) => Ok(s),
        Err(_) if fallback => tmpl.execute(v, &Schema::RAW),
        Err(e) => Err(e),
    }
}

/// The names after dots in a template's text that look like exported Go fields (`.Names`).
fn field_names(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('.') {
        let rest = &text[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        if name.starts_with(|c: char| c.is_ascii_uppercase()) {
            out.push(name);
        }
    }
    out
}

/// A column title derived from a field name as docker's headers read: "CreatedAt" is
/// "CREATED AT".
pub fn title_of(field: &str) -> String {
    let mut t = String::new();
    let mut prev_lower = false;
    for ch in field.chars() {
        if ch.is_uppercase() && prev_lower {
            t.push(' ');
        }
        prev_lower = ch.is_lowercase();
        t.extend(ch.to_uppercase());
    }
    t
}

/// The header line of a `table` template: the template run over the column titles (known
/// `titles` first, then any row field's derived title) with docker's header functions.
/// Errors leave what was written before them, as docker ignores them.
pub fn header(tmpl: &Template, titles: &[(&str, &str)], rows: &[Value]) -> String {
    let mut m = Map::new();
    for r in rows {
        if let Value::Object(o) = r {
            for k in o.keys() {
                m.insert(k.clone(), Value::String(title_of(k)));
            }
        }
    }
    // Fields the template names, when no row shows them (nothing listed).
    for field in field_names(&tmpl.text) {
        if !m.contains_key(field) {
            m.insert(field.to_owned(), Value::String(title_of(field)));
        }
    }
    // Titles docker gives fields outside the command's default columns.
    for (field, title) in [("VirtualSize", "SIZE")] {
        if m.contains_key(field) {
            m.insert(field.to_owned(), Value::String(title.to_owned()));
        }
    }
    for (field, title) in titles {
        m.insert((*field).to_owned(), Value::String((*title).to_owned()));
    }
    match tmpl.execute_with(&Value::Object(m), &HEADER, HEADER_FUNCS) {
        Ok(s) => s,
        Err((_, partial)) => partial,
    }
}
