#!/bin/sh
# Quick start on a fresh Debian 12 machine, as root: installs the build dependencies, builds
# Berth, makes a busybox bundle from Debian's busybox-static and runs a container in it.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q libseccomp-dev pkg-config busybox-static gcc curl ca-certificates
if ! command -v cargo >/dev/null 2>&1; then
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    . "$HOME/.cargo/env"
fi
cargo build --release
rt=target/release/berth-runtime
bundle=$(mktemp -d /tmp/berth-quickstart.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
./scripts/mk-busybox-rootfs.sh "$bundle/rootfs"
"$rt" spec --bundle "$bundle"
# A non-interactive process for the demo (the default spec runs an interactive sh).
sed -i 's/"terminal": true/"terminal": false/; s|"sh"$|"sh", "-c", "echo Hello from a Berth container: pid $$ on $(hostname); cat /proc/self/cgroup \| head -3"|' "$bundle/config.json"
"$rt" --root /run/berth-quickstart run --bundle "$bundle" "quickstart-$$"
