#!/usr/bin/env python3
"""Berth's networking side by side with Docker, Podman and a server run directly, in ONE run.

Usage (root):
  scripts/bench-net.py [--berth target/release/berth] [--runs 10] [--rounds 3] [--secs 10]
                       [--ports 1000] [--no-docker] [--no-podman] [--only start,wrk,ports]

Every engine gets a throwaway network namespace of its own as its "host" (so Docker's
iptables, with its FORWARD policy DROP, and Podman's netavark rules never meet Berth's
nftables tables), with its own data root; one "outside" namespace is wired to each host
namespace by a veth pair of its own (192.0.2.0/24, one /30 each), so every server is
reached the same way from the same client: one veth hop, then that host's path to the
server. Measured, alternating between the engines (A B C A B C ...), medians:

1. `run --rm busybox true`: berth on the default bridge (`--network bridge`), berth with
   `--network none`, docker on its default bridge (docker0), podman on its default
   network (netavark's podman0). Targets of issue 11: berth bridge <= 0.1x docker, and
   <= 5 ms more than berth none.
2. `wrk -t2 -c16 -dSECS` from the outside namespace against busybox httpd serving the
   same small file (GET /hostname): published with `-p 8080:80` by berth, docker
   (DNAT from outside; docker-proxy for the host's own loopback) and podman, and the same
   busybox binary run directly (a plain process, no container) in berth's host
   namespace on port 8081; and berth's container on `--network host` (port 8082), which
   separates what being in a container costs the server from what the published port's
   path (veth, bridge, conntrack and DNAT) costs. Target: berth >= 0.95x direct.
3. What N published ports cost against one: processes added (berth: none beyond the
   container's monitor and keeper; docker: one docker-proxy per port), their RSS, and
   the kernel's side for berth (elements in table ip berth-ports, size of its listing).

Everything made is removed at the end, also on failure; the real host's interfaces and
firewall are not touched. The machine's load average is printed before and after: on a
busy machine compare only the ratios.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = "bnet-out-%d" % os.getpid()
HOSTS = {  # engine: (namespace, host address, outside address)
    "berth": ("bnet-berth-%d" % os.getpid(), "192.0.2.1", "192.0.2.2"),
    "docker": ("bnet-docker-%d" % os.getpid(), "192.0.2.5", "192.0.2.6"),
    "podman": ("bnet-podman-%d" % os.getpid(), "192.0.2.9", "192.0.2.10"),
}


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    """Every descendant of pid."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = []
        try:
            for t in os.listdir("/proc/%d/task" % p):  # children of every thread
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        out += kids
        todo += kids
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="berth-bench-net")
        self.berth = os.path.abspath(a.berth)
        self.engines = ["berth"] + [e for e in ("docker", "podman") if getattr(a, e)]
        self.dockerd = None
        self.direct = None
        self.benv = dict(os.environ, BERTH_ROOT=os.path.join(self.tmp, "berth"))
        conf = os.path.join(self.tmp, "containers.conf")
        with open(conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n[engine]\nruntime = "runc"\n'
                    'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
        self.penv = dict(os.environ, CONTAINERS_CONF=conf)

    # The engines' command lines, inside their host namespaces.
    def b(self, *args, check=True):
        return sh("nsenter", "--net=/run/netns/" + HOSTS["berth"][0], self.berth, *args,
                  env=self.benv, check=check)

    def d(self, *args, check=True):
        return sh("/usr/bin/docker", "-H", "unix://" + os.path.join(self.tmp, "docker.sock"),
                  *args, check=check)

    def p(self, *args, check=True):
        return sh("nsenter", "--net=/run/netns/" + HOSTS["podman"][0], "podman",
                  "--root", os.path.join(self.tmp, "podman/root"),
                  "--runroot", os.path.join(self.tmp, "podman/run"),
                  "--tmpdir", os.path.join(self.tmp, "podman/tmp"),
                  *args, env=self.penv, check=check)

    def engine_cmd(self, e):
        return {"berth": self.b, "docker": self.d, "podman": self.p}[e]

    def setup(self):
        sh("ip", "netns", "add", OUT)
        sh("ip", "-n", OUT, "link", "set", "lo", "up")
        for i, e in enumerate(self.engines):
            ns, host, out = HOSTS[e]
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "add", "bn-up%d" % i, "type", "veth", "peer", "name",
               "bn-out%d" % i)
            sh("ip", "-n", ns, "link", "set", "bn-out%d" % i, "netns", OUT)
            sh("ip", "-n", ns, "addr", "add", host + "/30", "dev", "bn-up%d" % i)
            sh("ip", "-n", OUT, "addr", "add", out + "/30", "dev", "bn-out%d" % i)
            sh("ip", "-n", ns, "link", "set", "bn-up%d" % i, "up")
            sh("ip", "-n", OUT, "link", "set", "bn-out%d" % i, "up")
            # Containers' traffic to the outside goes out of this link.
            sh("ip", "-n", ns, "route", "add", "default", "via", out)
        tar = os.path.join(self.tmp, "busybox.tar")
        sh("sh", os.path.join(HERE, "mk-busybox-tar.sh"), tar, "0")
        self.b("import", "-c", 'CMD ["sh"]', tar, "busybox:latest")
        if "docker" in self.engines:
            dd = os.path.join(self.tmp, "docker")
            os.makedirs(dd)
            log = open(os.path.join(dd, "dockerd.log"), "w")
            self.dockerd = subprocess.Popen(
                # nsenter, not `ip netns exec`: that one mounts a new /sys, hiding the
                # cgroup mounts dockerd needs.
                ["nsenter", "--net=/run/netns/" + HOSTS["docker"][0], "dockerd",
                 "--data-root", os.path.join(dd, "data"), "--exec-root",
                 os.path.join(dd, "exec"), "--pidfile", os.path.join(dd, "dockerd.pid"),
                 "-H", "unix://" + os.path.join(self.tmp, "docker.sock")],
                stdout=log, stderr=log, start_new_session=True)
            for _ in range(300):
                if self.d("version", check=False).returncode == 0:
                    break
                time.sleep(0.1)
            else:
                log.close()
                with open(os.path.join(dd, "dockerd.log")) as f:
                    sys.stderr.write(f.read()[-3000:])
                raise RuntimeError("dockerd did not answer")
            self.d("import", "-c", 'CMD ["sh"]', tar, "busybox:latest")
        if "podman" in self.engines:
            os.makedirs(os.path.join(self.tmp, "podman/tmp"))
            self.p("import", "-c", 'CMD ["sh"]', tar, "localhost/busybox:latest")

    def cleanup(self):
        for e in self.engines:
            try:
                if e == "berth":
                    ids = self.b("ps", "-aq", check=False).stdout.split()
                    if ids:
                        self.b("rm", "-f", *ids, check=False)
                elif e == "docker" and self.dockerd:
                    ids = self.d("ps", "-aq", check=False).stdout.split()
                    if ids:
                        self.d("rm", "-f", *ids, check=False)
                elif e == "podman":
                    self.p("rm", "-f", "-a", check=False)
            except Exception as ex:  # keep cleaning
                print("cleanup %s: %s" % (e, ex), file=sys.stderr)
        if self.dockerd:
            pidfile = os.path.join(self.tmp, "docker", "dockerd.pid")
            try:
                with open(pidfile) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
            try:
                self.dockerd.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.dockerd.pid, signal.SIGKILL)
                self.dockerd.wait()
        if self.direct:
            self.direct.terminate()
            self.direct.wait()
        for e in self.engines:
            sh("ip", "netns", "del", HOSTS[e][0], check=False)
        sh("ip", "netns", "del", OUT, check=False)
        # Storage mounts podman left in this mount namespace.
        with open("/proc/self/mounts") as f:
            mounts = [l.split()[1] for l in f if self.tmp in l.split()[1]]
        for m in sorted(mounts, reverse=True):
            sh("umount", "-l", m, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # 1. run --rm busybox true
    def starts(self):
        cases = [("berth, --network bridge", lambda: self.b(
                     "run", "--rm", "--network", "bridge", "busybox", "true")),
                 ("berth, --network none", lambda: self.b(
                     "run", "--rm", "--network", "none", "busybox", "true"))]
        if "docker" in self.engines:
            cases.append(("docker, default bridge",
                          lambda: self.d("run", "--rm", "busybox", "true")))
        if "podman" in self.engines:
            cases.append(("podman, default network",
                          lambda: self.p("run", "--rm", "busybox", "true")))
        for _, f in cases:  # warm-up: first use makes bridges and caches
            f()
        times = {n: [] for n, _ in cases}
        for _ in range(self.a.runs):
            for n, f in cases:
                t = time.perf_counter()
                f()
                times[n].append(time.perf_counter() - t)
        med = {n: statistics.median(v) for n, v in times.items()}
        print("\n## run --rm busybox true (%d runs each, alternating, medians)" % self.a.runs)
        for n, _ in cases:
            print("%-28s %8.1f ms" % (n, med[n] * 1000))
        bridge, none = med["berth, --network bridge"], med["berth, --network none"]
        print("berth bridge - berth none:   %8.1f ms (target <= 5 ms)" % ((bridge - none) * 1000))
        if "docker, default bridge" in med:
            print("berth bridge / docker:       %8.3fx (target <= 0.1x)"
                  % (bridge / med["docker, default bridge"]))
        if "podman, default network" in med:
            print("berth bridge / podman:       %8.3fx" % (bridge / med["podman, default network"]))

    # 2. wrk through published ports
    def wrk(self):
        www = os.path.join(self.tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "hostname"), "w") as f:
            f.write("0123456789ab\n")  # as long as a container's /etc/hostname
        busybox = shutil.which("busybox") or "/bin/busybox"
        self.direct = subprocess.Popen(
            ["nsenter", "--net=/run/netns/" + HOSTS["berth"][0], busybox, "httpd", "-f",
             "-p", "8081", "-h", www])
        targets = [("direct (plain process)", "http://%s:8081/hostname" % HOSTS["berth"][1])]
        srv = ["httpd", "-f", "-p", "80", "-h", "/etc"]
        self.b("run", "-d", "--name", "bnet-web", "--network", "bridge", "-p", "8080:80",
               "busybox", *srv)
        targets.append(("berth -p 8080:80", "http://%s:8080/hostname" % HOSTS["berth"][1]))
        # The same container on the host's network (no bridge, veth or NAT): what being
        # in a container costs the server, apart from the published port's path.
        self.b("run", "-d", "--name", "bnet-hostnet", "--network", "host", "busybox",
               "httpd", "-f", "-p", "8082", "-h", "/etc")
        targets.append(("berth --network host", "http://%s:8082/hostname" % HOSTS["berth"][1]))
        if "docker" in self.engines:
            self.d("run", "-d", "--name", "bnet-web", "-p", "8080:80", "busybox", *srv)
            targets.append(("docker -p 8080:80", "http://%s:8080/hostname" % HOSTS["docker"][1]))
        if "podman" in self.engines:
            self.p("run", "-d", "--name", "bnet-web", "-p", "8080:80", "busybox", *srv)
            targets.append(("podman -p 8080:80", "http://%s:8080/hostname" % HOSTS["podman"][1]))
        time.sleep(1)
        rates = {n: [] for n, _ in targets}
        for _ in range(self.a.rounds):
            for n, url in targets:
                r = sh("nsenter", "--net=/run/netns/" + OUT, "wrk", "-t2", "-c16",
                       "-d%ds" % self.a.secs, url)
                rps = [float(l.split()[1]) for l in r.stdout.splitlines()
                       if l.startswith("Requests/sec")]
                errs = [l.strip() for l in r.stdout.splitlines() if "errors" in l]
                rates[n].append(rps[0] if rps else 0.0)
                if errs:
                    print("  %s: %s" % (n, "; ".join(errs)))
        med = {n: statistics.median(v) for n, v in rates.items()}
        base = med["direct (plain process)"]
        print("\n## wrk -t2 -c16 -d%ds from the outside namespace, GET /hostname of busybox "
              "httpd (%d rounds, alternating, medians)" % (self.a.secs, self.a.rounds))
        for n, _ in targets:
            print("%-26s %9.0f req/s  %.2fx direct   (rounds: %s)" % (
                n, med[n], med[n] / base if base else 0,
                ", ".join("%.0f" % x for x in rates[n])))
        for e in self.engines:
            self.engine_cmd(e)("rm", "-f", "bnet-web", check=False)
        self.b("rm", "-f", "bnet-hostnet", check=False)
        self.direct.terminate()
        self.direct.wait()
        self.direct = None

    # 3. one published port against N
    def ports(self):
        n = self.a.ports
        lo, hi = 20000, 20000 + n - 1
        print("\n## 1 against %d published ports (one container each)" % n)
        for e in self.engines:
            run = self.engine_cmd(e)
            for count, spec in ((1, "19999:80"), (n, "%d-%d:%d-%d" % (lo, hi, lo, hi))):
                net = ["--network", "bridge"] if e == "berth" else []
                t = time.perf_counter()
                r = run("run", "-d", "--name", "bnet-ports", *net, "-p", spec, "busybox",
                        "sleep", "3600", check=False)
                took = time.perf_counter() - t
                if r.returncode != 0:
                    print("%-7s %5d ports: run failed: %s" % (e, count, r.stderr.strip()[:200]))
                    continue
                time.sleep(1)
                if e == "berth":
                    cid = r.stdout.strip()
                    pids = [int(x) for x in sh("pgrep", "-f", "berth-monitor.*" + cid,
                                               check=False).stdout.split()]
                    procs = pids
                    listing = sh("nsenter", "--net=/run/netns/" + HOSTS["berth"][0], "nft",
                                 "list", "table", "ip", "berth-ports", check=False).stdout
                    # Elements of the maps: "elements = { a . b : c . d, ... }".
                    elems = sum(block.split("}")[0].count(",") + 1
                                for block in listing.split("elements = {")[1:])
                    extra = "table ip berth-ports: %d elements, %d bytes listed" % (
                        elems, len(listing))
                elif e == "docker":
                    with open(os.path.join(self.tmp, "docker", "dockerd.pid")) as f:
                        dpid = int(f.read().strip())
                    procs = [p for p in children(dpid) if comm(p) == "docker-proxy"]
                    extra = "docker-proxy processes: %d" % len(procs)
                else:
                    procs = [int(x) for x in sh("pgrep", "-f", "conmon.*bnet-ports",
                                                check=False).stdout.split()]
                    procs += [p for p in children(os.getpid()) if comm(p) == "rootlessport"]
                    extra = "conmon processes: %d" % len(procs)
                print("%-7s %5d ports: run -d %.2f s; %d processes for it, RSS %d kB; %s" % (
                    e, count, took, len(procs), sum(rss_kb(p) for p in procs), extra))
                run("rm", "-f", "bnet-ports", check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--berth", default=os.path.join(HERE, "..", "target", "release", "berth"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--no-docker", dest="docker", action="store_false")
    ap.add_argument("--no-podman", dest="podman", action="store_false")
    ap.add_argument("--only", default="start,wrk,ports")
    a = ap.parse_args()
    for tool in ("wrk", "nft", "ip", "nsenter", "busybox"):
        if not shutil.which(tool):
            sys.exit("bench-net: %s is missing" % tool)
    a.docker = a.docker and bool(shutil.which("dockerd"))
    a.podman = a.podman and bool(shutil.which("podman"))
    bench = Bench(a)
    print("load average before: %s" % load())
    try:
        bench.setup()
        only = a.only.split(",")
        if "start" in only:
            bench.starts()
        if "wrk" in only:
            bench.wrk()
        if "ports" in only:
            bench.ports()
    except subprocess.CalledProcessError as e:
        print("bench-net: %s failed: %s" % (" ".join(e.cmd), e.stderr), file=sys.stderr)
        raise
    finally:
        bench.cleanup()
        print("load average after: %s" % load())


if __name__ == "__main__":
    main()
