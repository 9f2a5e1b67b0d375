#!/bin/sh
# Quick start on a fresh Debian 12 machine, as root: installs the build dependencies, builds
# Berth, installs `berth`, `berth-monitor` and `berth-runtime` in $PREFIX/bin (default
# /usr/local/bin) with shell completions and man pages, runs a first container with
# berth-runtime, and prints what to try next.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
prefix=${PREFIX:-/usr/local}

# apt-get, waiting for another apt-get or unattended-upgrades that holds the lock (a fresh
# cloud machine often runs one at boot) instead of failing at once.
apt_get() {
    log=$(mktemp)
    tries=0
    while :; do
        if apt-get -o DPkg::Lock::Timeout=600 "$@" 2>"$log"; then
            cat "$log" >&2
            rm -f "$log"
            return 0
        fi
        # apt-get update's lists lock does not honour DPkg::Lock::Timeout: wait here.
        if grep -q 'Could not get lock\|Unable to lock' "$log" && [ "$tries" -lt 120 ]; then
            [ "$tries" -eq 0 ] && echo "quickstart: waiting for another apt-get to finish..." >&2
            tries=$((tries + 1))
            sleep 5
            continue
        fi
        cat "$log" >&2
        rm -f "$log"
        return 1
    done
}

apt_get update -q
# procps: `berth top` runs the host's ps, as docker's does.
apt_get install -y -q libseccomp-dev pkg-config busybox-static gcc curl ca-certificates \
    bash-completion man-db procps
if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] || curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    . "$HOME/.cargo/env"
fi
cargo build --release

# The binaries, side by side: berth runs berth-monitor from its own directory.
install -d "$prefix/bin"
install -m 755 target/release/berth target/release/berth-monitor target/release/berth-runtime \
    "$prefix/bin/"
berth=$prefix/bin/berth
# Completions where each shell looks for them under $prefix/share (bash-completion, zsh
# and fish all search /usr/local/share), and the man pages (berth(1), berth-run(1)...).
install -d "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" \
    "$prefix/share/fish/vendor_completions.d" "$prefix/share/man/man1"
"$berth" completion bash >"$prefix/share/bash-completion/completions/berth"
"$berth" completion zsh >"$prefix/share/zsh/site-functions/_berth"
"$berth" completion fish >"$prefix/share/fish/vendor_completions.d/berth.fish"
"$berth" man-pages "$prefix/share/man/man1"
command -v mandb >/dev/null 2>&1 && mandb -q "$prefix/share/man" 2>/dev/null || true

# A first container, straight from the runtime: a busybox bundle from Debian's busybox-static.
rt=$prefix/bin/berth-runtime
bundle=$(mktemp -d /tmp/berth-quickstart.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
./scripts/mk-busybox-rootfs.sh "$bundle/rootfs"
"$rt" spec --bundle "$bundle"
# A non-interactive process for the demo (the default spec runs an interactive sh).
sed -i 's/"terminal": true/"terminal": false/; s|"sh"$|"sh", "-c", "echo Hello from a Berth container: pid $$ on $(hostname); cat /proc/self/cgroup \| head -3"|' "$bundle/config.json"
"$rt" --root /run/berth-quickstart run --bundle "$bundle" "quickstart-$$"

case ":$PATH:" in
*":$prefix/bin:"*) path_note="" ;;
*) path_note="
($prefix/bin is not on your PATH: add it, e.g. export PATH=$prefix/bin:\$PATH)" ;;
esac
found=$(command -v berth 2>/dev/null || true)
if [ -n "$found" ] && [ "$found" != "$berth" ]; then
    path_note="$path_note
(another berth comes first on your PATH: $found)"
fi
cat <<EOF

Berth is installed: $berth ($("$berth" --version)),
with berth-monitor and berth-runtime next to it, shell completions and man pages (man berth).$path_note
It keeps its data in /var/lib/berth (--root or BERTH_ROOT to choose another) and its
configuration in /etc/berth/berth.toml (optional). To start the --restart always
containers again at boot: cp contrib/systemd/berth-restore.service /etc/systemd/system/ &&
systemctl enable berth-restore (it runs $prefix/bin/berth system restore; edit its path if
PREFIX is not /usr/local).

Next, from this directory (see README.md for more):

  scripts/mk-busybox-tar.sh /tmp/bb.tar && berth import -c 'CMD ["sh"]' /tmp/bb.tar busybox
  berth run --rm busybox echo hello
  berth run -it --rm busybox           # an interactive sh: exit to leave
  berth --help; berth run --help; man berth-run
EOF
