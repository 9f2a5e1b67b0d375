#!/bin/sh
# Builds a busybox root filesystem from Debian's busybox-static into DIR:
# /bin/busybox plus a symlink per applet, /etc/passwd and /etc/group with root and nobody,
# empty /proc /sys /dev /tmp and /etc/hosts. Usage: mk-busybox-rootfs.sh DIR
set -eu
dir=${1:?usage: $0 DIR}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "$0: $bb not found (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/usr/sbin" "$dir/etc" "$dir/proc" \
    "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root"
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
"$bb" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    [ -e "$dir/$applet" ] || ln -s /bin/busybox "$dir/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/etc/group"
: >"$dir/etc/hosts"
