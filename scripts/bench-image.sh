#!/bin/bash
# Benchmark berth's image commands side by side with docker and podman, in one run,
# alternating (berth, docker, podman, berth, ...), medians of RUNS runs.
#
#   scripts/bench-image.sh [BERTH_BINARY]
#
# BERTH_BINARY defaults to target-img/release/berth (build it with
#   CARGO_TARGET_DIR=target-img cargo build --release -p berth-cli).
# Env: RUNS (default 7), SIZE_MB (random data in the big image, default 53 -> ~55 MB image),
#      IMAGES (count for the `images` listing, default 100), KEEP=1 keeps the work dir.
# Needs root, dockerd (docker.io), podman, busybox-static. Never touches host networking:
# dockerd runs with its own data root and socket, --bridge=none --iptables=false.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
berth=${1:-$here/target-img/release/berth}
runs=${RUNS:-7}
size_mb=${SIZE_MB:-53}
nimages=${IMAGES:-100}
[ -x "$berth" ] || { echo "no berth binary at $berth" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-image.sh needs root" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
dk=$work/docker
mkdir -p "$dk" "$work/podman"
dockerd_pid=
cleanup() {
    if [ -n "$dockerd_pid" ]; then kill "$dockerd_pid" 2>/dev/null || true; wait "$dockerd_pid" 2>/dev/null || true; fi
    # podman's overlay driver leaves a mount in its storage root
    awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" || true; done
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

export BERTH_ROOT=$work/berth
B() { "$berth" "$@"; }
dockerd --data-root "$dk/data" --exec-root "$dk/exec" -H "unix://$dk/sock" --pidfile "$dk/pid" \
    --bridge=none --iptables=false --ip6tables=false >"$dk/log" 2>&1 &
dockerd_pid=$!
DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=docker
D() { "$DOCKER" -H "unix://$dk/sock" "$@"; }
for _ in $(seq 100); do D version >/dev/null 2>&1 && break; sleep 0.2; done
D version >/dev/null

cat >"$work/podman/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
P() { CONTAINERS_CONF=$work/podman/containers.conf podman --root "$work/podman/root" --runroot "$work/podman/run" "$@"; }

ms() { # run a command, print elapsed milliseconds
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>"$work/last.err" || { echo "command failed: $*: $(tail -2 "$work/last.err")" >&2; exit 1; }
    e=$(date +%s%N)
    echo $(((e - s) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

echo "# building a ${size_mb} MB + busybox image" >&2
"$here/scripts/mk-busybox-tar.sh" "$work/rootfs.tar" "$size_mb"
"$here/scripts/mk-busybox-tar.sh" "$work/small.tar"
B import "$work/rootfs.tar" bench:big >/dev/null
D import "$work/rootfs.tar" bench:big >/dev/null
P import "$work/rootfs.tar" localhost/bench:big >/dev/null
img_size=$(B images --format '{{.Size}}' bench)

declare -A res
add() { res[$1]="${res[$1]:-} $2"; }

echo "# save/load, $runs alternating runs" >&2
for i in $(seq "$runs"); do
    rm -f "$work"/b.tar "$work"/d.tar "$work"/p.tar
    add berth_save "$(ms B save -o "$work/b.tar" bench:big)"
    add docker_save "$(ms D save -o "$work/d.tar" bench:big)"
    add podman_save "$(ms P save -o "$work/p.tar" localhost/bench:big)"
    B rmi bench:big >/dev/null
    D rmi bench:big >/dev/null
    P rmi localhost/bench:big >/dev/null
    add berth_load "$(ms B load -q -i "$work/b.tar")"
    add docker_load "$(ms D load -q -i "$work/d.tar")"
    add podman_load "$(ms P load -q -i "$work/p.tar")"
done

echo "# images with $nimages images" >&2
for i in $(seq "$nimages"); do
    B import -c "LABEL n=$i" "$work/small.tar" "many$i:latest" >/dev/null
    D import -c "LABEL n=$i" "$work/small.tar" "many$i:latest" >/dev/null
    P import -c "LABEL n=$i" "$work/small.tar" "localhost/many$i:latest" >/dev/null
done
for i in $(seq $((runs * 3))); do
    add berth_images "$(ms B images)"
    add docker_images "$(ms D images)"
    add podman_images "$(ms P images)"
done
# Finer resolution for berth's listing: average of 50 runs in one go.
s=$(date +%s%N); for _ in $(seq 50); do B images >/dev/null; done; e=$(date +%s%N)
berth_images_avg_us=$(((e - s) / 50000))

# ---------------------------------------------------------------- push / pull
regdir=$work/registry
regport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
reg=127.0.0.1:$regport
reg_pid=
start_registry() {
    [ -n "$reg_pid" ] && { kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; }
    rm -rf "$regdir/data"; mkdir -p "$regdir"
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n' "$regdir/data" "$reg" >"$regdir/config.yml"
    docker-registry serve "$regdir/config.yml" >"$regdir/log" 2>&1 &
    reg_pid=$!
    for _ in $(seq 100); do curl -sf "http://$reg/v2/" >/dev/null 2>&1 && return; sleep 0.05; done
    echo "registry did not start" >&2; exit 1
}
trap 'kill $reg_pid 2>/dev/null || true; cleanup' EXIT
export BERTH_CONFIG=$work/berth.toml; : >"$BERTH_CONFIG"
B tag bench:big "$reg/bench/berth:1"
D tag bench:big "$reg/bench/docker:1"
P tag localhost/bench:big "$reg/bench/podman:1"
# Only the registry names stay, so every pull really downloads.
B rmi bench:big >/dev/null; D rmi bench:big >/dev/null; P untag localhost/bench:big localhost/bench:big
echo "# push/pull of the big image, $runs alternating runs (fresh registry storage per run)" >&2
for i in $(seq "$runs"); do
    start_registry
    add berth_push "$(ms B push "$reg/bench/berth:1")"
    add docker_push "$(ms D push "$reg/bench/docker:1")"
    add podman_push "$(ms P push --tls-verify=false "$reg/bench/podman:1")"
    B rmi -f "$reg/bench/berth:1" >/dev/null 2>&1 || true; B image prune -a -f >/dev/null
    D rmi -f "$reg/bench/docker:1" >/dev/null 2>&1 || true
    P rmi -f "$reg/bench/podman:1" >/dev/null 2>&1 || true
    add berth_pull "$(ms B pull -q "$reg/bench/berth:1")"
    add docker_pull "$(ms D pull -q "$reg/bench/docker:1")"
    add podman_pull "$(ms P pull -q --tls-verify=false "$reg/bench/podman:1")"
    # berth pulling what docker pushed (gzip layers)
    add berth_pullgz "$(ms B pull -q "$reg/bench/docker:1")"
    B rmi -f "$reg/bench/docker:1" >/dev/null 2>&1 || true
done

echo "# 200 MB in 5 layers: pull, and download vs unpack" >&2
python3 "$here/scripts/mk-layered-archive.py" "$work/layered.tar" 5 40 bench:layered
start_registry
B load -q -i "$work/layered.tar" >/dev/null
D load -q -i "$work/layered.tar" >/dev/null
P load -q -i "$work/layered.tar" >/dev/null
B tag bench:layered "$reg/bench/lberth:1"; D tag bench:layered "$reg/bench/ldocker:1"; P tag localhost/bench:layered "$reg/bench/lpodman:1"
B rmi bench:layered >/dev/null; D rmi bench:layered >/dev/null; P untag localhost/bench:layered localhost/bench:layered
B push "$reg/bench/lberth:1" >/dev/null; D push "$reg/bench/ldocker:1" >/dev/null; P push --tls-verify=false "$reg/bench/lpodman:1" >/dev/null
layer_urls=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/bench/lberth/manifests/1" \
    | python3 -c 'import json,sys; [print(l["digest"]) for l in json.load(sys.stdin)["layers"]]')
fetch_all() { for d in $layer_urls; do curl -s -o /dev/null "http://$reg/v2/bench/lberth/blobs/$d" & done; wait; }
for i in $(seq "$runs"); do
    B rmi -f "$reg/bench/lberth:1" bench:layered >/dev/null 2>&1 || true; B image prune -a -f >/dev/null
    D rmi -f "$reg/bench/ldocker:1" bench:layered >/dev/null 2>&1 || true
    P rmi -f "$reg/bench/lpodman:1" >/dev/null 2>&1 || true
    add berth_lpull "$(ms B pull -q "$reg/bench/lberth:1")"
    add docker_lpull "$(ms D pull -q "$reg/bench/ldocker:1")"
    add podman_lpull "$(ms P pull -q --tls-verify=false "$reg/bench/lpodman:1")"
    add berth_lpullgz "$(ms B pull -q "$reg/bench/ldocker:1")"
    add download "$(ms fetch_all)"
    B rmi -f "$reg/bench/lberth:1" "$reg/bench/ldocker:1" >/dev/null 2>&1 || true; B image prune -a -f >/dev/null
    add unpack "$(ms B load -q -i "$work/layered.tar")"
    B tag bench:layered "$reg/bench/lberth:1"; B rmi bench:layered >/dev/null
done

med() { echo "${res[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }

echo
echo "image: busybox + ${size_mb} MiB random data, one layer, $img_size (berth's count); $runs runs, medians in ms"
echo
echo "| operation | berth | docker | podman | berth / faster peer |"
echo "|---|---|---|---|---|"
for op in save load push pull images; do
    b=$(med berth_$op); d=$(med docker_$op); p=$(med podman_$op)
    echo "| $op | $b | $d | $p | $(ratio "$b" "$(min "$d" "$p")") |"
done
echo "| pull of docker's push (gzip layers) | $(med berth_pullgz) | $(med docker_pull) | $(med podman_pull) | $(ratio "$(med berth_pullgz)" "$(min "$(med docker_pull)" "$(med podman_pull)")") |"
echo
echo "200 MB in 5 layers (+ busybox layer):"
echo
echo "| operation | berth | docker | podman | berth / faster peer |"
echo "|---|---|---|---|---|"
b=$(med berth_lpull); d=$(med docker_lpull); p=$(med podman_lpull)
echo "| pull | $b | $d | $p | $(ratio "$b" "$(min "$d" "$p")") |"
b=$(med berth_lpullgz)
echo "| berth pull of docker's push (gzip) | $b | $d | $p | $(ratio "$b" "$(min "$d" "$p")") |"
echo
echo "berth 200 MB pull $(med berth_lpull) ms vs download alone (5 parallel curl) $(med download) ms and unpack alone (berth load of the same layers) $(med unpack) ms"
echo
echo "berth images ($nimages images), mean of 50 runs: ${berth_images_avg_us} us"
