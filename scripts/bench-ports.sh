#!/bin/bash
# Throughput through a published port (nftables DNAT, no proxy) against the same busybox
# httpd on the host's own network (a container with --network host), measured with wrk
# (Debian's package) from an "outside" network namespace and from the host's 127.0.0.1.
# Everything happens in throwaway network namespaces and a temporary data root, as the
# tests do: the real host's interfaces and firewall are not touched.
#
#   scripts/bench-ports.sh [BERTH_BINARY] [SECONDS]     (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
berth_bin="$(realpath "${1:-target/debug/berth}")"
secs="${2:-10}"
conns=16
for t in wrk nft ip nsenter; do
    command -v "$t" >/dev/null || { echo "bench-ports: $t is missing" >&2; exit 1; }
done
tmp="$(mktemp -d)"
ns="berth-bench-$$"
out="$ns-out"
export BERTH_ROOT="$tmp/root"
cleanup() {
    b rm -f web direct >/dev/null 2>&1 || true
    b network rm bench-net >/dev/null 2>&1 || true
    ip netns del "$ns" 2>/dev/null || true
    ip netns del "$out" 2>/dev/null || true
    rm -rf "$tmp"
}
b() { nsenter --net="/run/netns/$ns" "$berth_bin" "$@"; }
in_ns() { nsenter --net="/run/netns/$1" "${@:2}"; }
trap cleanup EXIT

ip netns add "$ns"
ip netns add "$out"
ip -n "$ns" link set lo up
ip -n "$out" link set lo up
ip -n "$ns" link add bb-up0 type veth peer name bb-up1
ip -n "$ns" link set bb-up1 netns "$out"
ip -n "$ns" addr add 192.0.2.1/24 dev bb-up0
ip -n "$out" addr add 192.0.2.2/24 dev bb-up1
ip -n "$ns" link set bb-up0 up
ip -n "$out" link set bb-up1 up

scripts/mk-busybox-tar.sh "$tmp/busybox.tar" 0 >/dev/null
b import -c 'CMD ["sh"]' "$tmp/busybox.tar" busybox:latest >/dev/null
b network create --subnet 10.250.0.0/24 bench-net >/dev/null
b run -d --name web --network bench-net -p 8080:80 busybox httpd -f -p 80 -h /etc >/dev/null
b run -d --name direct --network host busybox httpd -f -p 8081 -h /etc >/dev/null
sleep 1

rate() { # NS URL -> requests per second
    in_ns "$1" wrk -t2 -c"$conns" -d"${secs}s" "$2" | awk '/Requests\/sec/ {print $2}'
}
echo "wrk -t2 -c$conns -d${secs}s, GET /hostname from busybox httpd"
for from in out host; do
    nsname="$out"; addr=192.0.2.1
    if [ "$from" = host ]; then nsname="$ns"; addr=127.0.0.1; fi
    direct="$(rate "$nsname" "http://$addr:8081/hostname")"
    published="$(rate "$nsname" "http://$addr:8080/hostname")"
    ratio="$(awk -v p="$published" -v d="$direct" 'BEGIN {printf "%.2f", p / d}')"
    echo "from $from to $addr: direct (host network) $direct req/s, published port $published req/s, ratio $ratio"
done
# The same container without DNAT (its own address, through the bridge): what the veth
# and bridge cost, apart from the NAT.
ip="$(b inspect -f '{{.NetworkSettings.Networks.bench-net.IPAddress}}' web 2>/dev/null || true)"
[ -n "$ip" ] || ip=10.250.0.2
echo "from host to the container's own address $ip:80 (no DNAT): $(rate "$ns" "http://$ip:80/hostname") req/s"
