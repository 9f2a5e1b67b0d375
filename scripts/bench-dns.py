#!/usr/bin/env python3
"""Lookup latency of the embedded resolver with many names on one network.

Usage (root): scripts/bench-dns.py [--names 200] [--queries 2000] [--berth target/debug/berth]
                                   [--baseline OTHER_BERTH]

Everything happens in a throwaway network namespace ("the host") with its own data root:
N busybox containers on one user-defined network, then a client in the first container's
namespace asks 127.0.0.11 for random names of the others (A queries, one at a time) and
prints p50/p99/max; then the same for names that are not ours (forwarded to a local
responder on the test host's 127.0.0.1, named by berth.toml's `dns`). Everything made is
removed at the end, also on failure.

With --baseline (another build of berth, e.g. main's), one more container on the network
is started by that build, so its monitor runs that build's resolver; the queries then
alternate between the two resolvers (same names, same machine state), and the two are
compared in one run. The load average is printed before and after.
"""

import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def setns(path):
    libc = __import__("ctypes").CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(__import__("ctypes").get_errno(), "setns " + path)
    finally:
        os.close(fd)


def responder(ns, stop):
    """NXDOMAIN for everything, on 127.0.0.1:53 of the test host."""
    setns(ns)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            m, src = s.recvfrom(1500)
        except socket.timeout:
            continue
        if len(m) >= 12:
            s.sendto(m[:2] + b"\x81\x83" + m[4:6] + b"\0\0\0\0\0\0" + m[12:], src)


def measure(targets, names, n, label):
    """Runs in a child process: one socket in each target's namespace (label, netns
    path), then n rounds of one query to each in turn (interleaved, so they share the
    machine's state); p50/p99/max per target."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        socks = []
        for _, netns in targets:
            setns(netns)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            socks.append(s)
        lat = [[] for _ in targets]
        for i in range(n):
            name = random.choice(names)
            for j, s in enumerate(socks):
                qid = (i * len(socks) + j) & 0xFFFF
                t = time.perf_counter()
                s.sendto(query(name, qid), ("127.0.0.11", 53))
                while True:
                    m = s.recv(4096)
                    if m[:2] == struct.pack(">H", qid):
                        break
                lat[j].append(time.perf_counter() - t)
        os.write(w, "\n".join(" ".join("%.6f" % x for x in l) for l in lat).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.waitpid(pid, 0)
    for (who, _), line in zip(targets, data.decode().split("\n")):
        lat = sorted(float(x) for x in line.split())
        pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
        print("%-24s %-10s %5d queries  p50 %.3f ms  p99 %.3f ms  max %.2f ms"
              % (label, who, len(lat), pct(0.50), pct(0.99), lat[-1] * 1000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=200)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--berth", default=os.path.join(HERE, "..", "target", "debug", "berth"))
    ap.add_argument("--baseline", help="another berth binary whose resolver is compared")
    a = ap.parse_args()
    print("load average before: %s" % load())
    berth = os.path.abspath(a.berth)
    tmp = tempfile.mkdtemp(prefix="berth-bench-dns")
    ns_name = "berth-bdns-%d" % os.getpid()
    ns = "/run/netns/" + ns_name
    env = dict(os.environ, BERTH_ROOT=os.path.join(tmp, "root"),
               BERTH_CONFIG=os.path.join(tmp, "berth.toml"))
    with open(env["BERTH_CONFIG"], "w") as f:
        f.write('dns = ["127.0.0.1"]\n')

    def b(*args, binary=berth):
        return subprocess.run(["nsenter", "--net=" + ns, binary, *args], env=env,
                              check=True, capture_output=True, text=True).stdout

    stop = threading.Event()
    subprocess.run(["ip", "netns", "add", ns_name], check=True)
    try:
        subprocess.run(["ip", "-n", ns_name, "link", "set", "lo", "up"], check=True)
        th = threading.Thread(target=responder, args=(ns, stop), daemon=True)
        th.start()
        tar = os.path.join(tmp, "busybox.tar")
        subprocess.run(["sh", os.path.join(HERE, "mk-busybox-tar.sh"), tar, "0"], check=True)
        b("import", "-c", 'CMD ["sh"]', tar, "busybox")
        b("network", "create", "--subnet", "10.210.0.0/16", "bench")
        t = time.time()
        names = []
        for i in range(a.names):
            names.append("c%d" % i)
            b("run", "-d", "--name", names[-1], "--network", "bench", "busybox", "sleep", "3600")
        print("%d containers started in %.1f s" % (a.names, time.time() - t))
        targets = [("this", b("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "c0").strip())]
        if a.baseline:
            b("run", "-d", "--name", "base0", "--network", "bench", "busybox", "sleep", "3600",
              binary=os.path.abspath(a.baseline))
            targets.append(("baseline",
                            b("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "base0").strip()))
        monitor = subprocess.run(["pgrep", "-f", "berth-monitor.*" +
                                  b("inspect", "-f", "{{.Id}}", "c0").strip()],
                                 capture_output=True, text=True).stdout.split()
        measure(targets, names, a.queries, "names of the network")
        measure(targets, ["nosuch%d.example" % i for i in range(50)], a.queries // 4,
                "forwarded (NXDOMAIN)")
        # For comparison: the monitor of a container without a resolver.
        b("run", "-d", "--name", "plain", "--network", "none", "busybox", "sleep", "3600")
        time.sleep(2)  # both idle (a monitor trims itself after a quiet second)
        plain = subprocess.run(["pgrep", "-f", "berth-monitor.*" +
                                b("inspect", "-f", "{{.Id}}", "plain").strip()],
                               capture_output=True, text=True).stdout.split()
        rows = [("c0 (resolver, after the queries)", monitor)]
        if a.baseline:
            rows.append(("base0 (baseline's resolver, after the queries)",
                         subprocess.run(["pgrep", "-f", "berth-monitor.*" +
                                         b("inspect", "-f", "{{.Id}}", "base0").strip()],
                                        capture_output=True, text=True).stdout.split()))
        rows.append(("plain (--network none)", plain))
        for what, pids in rows:
            for p in pids:
                with open("/proc/%s/status" % p) as f:
                    st = dict(l.split(":", 1) for l in f if ":" in l)
                print("berth-monitor %s %s: %s, VmRSS %s (anonymous %s, files %s)" % (
                    p, what, st.get("Name", "?").strip(), st.get("VmRSS", "?").strip(),
                    st.get("RssAnon", "?").strip(), st.get("RssFile", "?").strip()))
    finally:
        stop.set()
        try:
            ids = b("ps", "-aq")
            if ids.split():
                b("rm", "-f", *ids.split())
            b("network", "prune", "-f")
        except subprocess.CalledProcessError as e:
            print("cleanup:", e.stderr, file=sys.stderr)
        subprocess.run(["ip", "netns", "del", ns_name])
        shutil.rmtree(tmp, ignore_errors=True)
        print("load average after: %s" % load())


if __name__ == "__main__":
    main()
