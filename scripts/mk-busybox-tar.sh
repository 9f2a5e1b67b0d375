#!/bin/sh
# Packs the busybox test rootfs (scripts/mk-busybox-rootfs.sh) as a tar, e.g. for `berth import`.
# Usage: mk-busybox-tar.sh OUT.tar [EXTRA_FILE_MB]
#   EXTRA_FILE_MB: also add /data/blob of that many MiB of random data (for benchmarks).
# The tar is deterministic apart from the random data: sorted, mtime 0, owner root.
set -eu
out=${1:?usage: mk-busybox-tar.sh OUT.tar [EXTRA_FILE_MB]}
extra=${2:-0}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
sh "$here/mk-busybox-rootfs.sh" "$dir"
if [ "$extra" -gt 0 ]; then
    mkdir -p "$dir/data"
    head -c "$((extra * 1024 * 1024))" /dev/urandom > "$dir/data/blob"
fi
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$out" .
