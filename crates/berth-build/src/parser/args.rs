//! The build arguments Docker predefines: the proxy ones (usable with `--build-arg` without
//! an ARG line, and kept out of the image history) and the platform ones (in the global
//! scope of every Dockerfile: a stage sees them after `ARG TARGETARCH` with no default).

/// Proxy arguments, accepted by `--build-arg` without being declared.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The platform arguments' names, in BuildKit's order.
pub const PLATFORM_ARGS: [&str; 8] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// The platform arguments' values for a build on `os`/`arch`[/`variant`] for the same
/// platform (Berth builds for the host's platform only): `linux/amd64` gives
/// `BUILDPLATFORM=linux/amd64`, `BUILDOS=linux`, `BUILDARCH=amd64`, `BUILDVARIANT=`...
pub fn platform_args(os: &str, arch: &str, variant: &str) -> Vec<(String, String)> {
    let platform = if variant.is_empty() {
        format!("{os}/{arch}")
    } else {
        format!("{os}/{arch}/{variant}")
    };
    ["BUILD", "TARGET"]
        .iter()
        .flat_map(|side| {
            [
                (format!("{side}PLATFORM"), platform.clone()),
                (format!("{side}OS"), os.to_string()),
                (format!("{side}ARCH"), arch.to_string()),
                (format!("{side}VARIANT"), variant.to_string()),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_args_for_a_platform() {
        let args = platform_args("linux", "arm", "v7");
        let names: Vec<&str> = args.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, PLATFORM_ARGS);
        assert_eq!(args[0].1, "linux/arm/v7");
        assert_eq!(args[6].1, "arm");
        assert_eq!(platform_args("linux", "amd64", "")[4].1, "linux/amd64");
    }

    #[test]
    fn platform_args_expand_in_from() {
        let d = super::super::parse(
            "Dockerfile",
            "FROM --platform=$BUILDPLATFORM busybox:${TARGETARCH}\n",
        )
        .unwrap();
        let meta = platform_args("linux", "amd64", "");
        let (image, platform) = d.stages[0].expand_base("Dockerfile", '\\', &meta).unwrap();
        assert_eq!(image, "busybox:amd64");
        assert_eq!(platform.as_deref(), Some("linux/amd64"));
    }
}
