#!/usr/bin/env python3
"""Benchmark of the container engine against Debian's docker.io and podman, side by side in
one run (alternating where it makes sense, medians), as ratios:

  run      `run --rm --network none busybox true`, each engine in turn, --runs times
  start50  50 x `run -d --network none busybox sleep 1000`, one after another
  rss      the per-container helper's resident memory with those 50 running
           (berth-monitor / containerd-shim-runc-v2 / conmon), idle: 2 s after the last
           start (a monitor trims its memory after a second idle); also its proportional
           (pss) and private (uss) share; rss+ and the others: berth's monitor and keeper
           together (the per-container cost)
  ps100    `ps -a` with 100 containers (50 running, 50 created), median of --runs
  stop50   `stop -t 0` of the 50, one command
  adopt    berth only: SIGKILL a running container's monitor, time until a new monitor has
           adopted it (its keeper starts one), median of --runs; the container must live on
           and its log must keep every line written meanwhile

Each engine gets its own data root under a temporary directory on the same disk; dockerd
runs isolated (own socket, data and exec roots, no bridge, no iptables) with overlay2, and
podman with runc and ulimits this host allows (see ../shared/peers.md).

Usage: scripts/bench-engine.py [--runs N] [--only berth,docker,podman]   (as root)
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def timed(cmd):
    t = time.perf_counter()
    sh(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def mem_kib(pid):
    """(Rss, Pss, Private) of a process in KiB, from smaps_rollup."""
    out = {"Rss": 0, "Pss": 0, "Private_Clean": 0, "Private_Dirty": 0}
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            k = line.split(":")[0]
            if k in out:
                out[k] = int(line.split()[1])
    except OSError:
        pass
    return out["Rss"], out["Pss"], out["Private_Clean"] + out["Private_Dirty"]


def pids_named(name):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if open(f"/proc/{p}/comm").read().strip() == name[:15]:
                    out.append(int(p))
            except OSError:
                pass
    return out


def monitor_of(cid):
    """The live berth-monitor process working for container `cid`."""
    for p in pids_named("berth-monitor"):
        try:
            if cid in open(f"/proc/{p}/cmdline").read() and "Z" not in open(f"/proc/{p}/stat").read().split(")")[-1].split()[0]:
                return p
        except OSError:
            pass
    return None


def adoption(e, runs):
    """Median time from a monitor's SIGKILL to its replacement, checking that the container
    lived on and that its log kept every line."""
    times = []
    dups = []
    for _ in range(runs):
        cid = subprocess.run(e.cmd("run", "-d", "--network", "none", "busybox", "sh", "-c",
                                   "i=0; while [ $i -lt 400 ]; do echo n$i; i=$((i+1)); sleep 0.005; done"),
                             check=True, capture_output=True, text=True).stdout.strip()
        time.sleep(0.3)
        old = monitor_of(cid)
        t = time.perf_counter()
        os.kill(old, 9)
        while True:
            new = monitor_of(cid)
            if new and new != old:
                break
            if time.perf_counter() - t > 10:
                raise SystemExit("no adoption in 10 s")
            time.sleep(0.0005)
        times.append(time.perf_counter() - t)
        sh(e.cmd("wait", cid), stdout=subprocess.DEVNULL)
        log = subprocess.run(e.cmd("logs", cid), check=True, capture_output=True, text=True).stdout
        # Every line, in order; a chunk logged just before the kill may be logged again
        # by the adopter (monitor/io/output.rs), never lost.
        seen = [int(l[1:]) for l in log.splitlines()]
        nxt = 0
        for k in seen:
            if k == nxt:
                nxt += 1
            elif k > nxt:
                raise SystemExit(f"the log lost n{nxt} across the adoption")
        if nxt != 400:
            raise SystemExit("the log ends early after the adoption")
        dups.append(len(seen) - 400)
        sh(e.cmd("rm", cid), stdout=subprocess.DEVNULL)
    print(f"adoption: {runs} monitors killed, lines logged twice: {sum(dups)}, lost: 0")
    return statistics.median(times)


class Engine:
    def __init__(self, name, base, helper):
        self.name, self.base, self.helper = name, base, helper

    def cmd(self, *args):
        return self.base + list(args)

    def ids(self, all_=True):
        out = subprocess.run(self.cmd("ps", "-q", "--no-trunc", *(["-a"] if all_ else [])),
                             check=True, capture_output=True, text=True).stdout
        return out.split()

    def clean(self):
        ids = self.ids()
        if ids:
            subprocess.run(self.cmd("rm", "-f", *ids), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--only", default="berth,docker,podman")
    ap.add_argument("--berth", default=os.path.join(REPO, "target", "release", "berth"))
    a = ap.parse_args()
    want = set(a.only.split(","))
    tmp = tempfile.mkdtemp(prefix="bench-engine-", dir="/var/tmp")
    procs = []
    engines = []
    try:
        tar = os.path.join(tmp, "busybox.tar")
        sh(["sh", os.path.join(HERE, "mk-busybox-tar.sh"), tar])
        if "berth" in want:
            e = Engine("berth", [os.path.abspath(a.berth), "--root", os.path.join(tmp, "berth")],
                       "berth-monitor")
            sh(e.cmd("import", "-c", 'CMD ["sh"]', tar, "busybox"), stdout=subprocess.DEVNULL)
            engines.append(e)
        if "docker" in want and shutil.which("dockerd"):
            d = os.path.join(tmp, "docker")
            os.makedirs(d)
            sock = os.path.join(d, "docker.sock")
            log = open(os.path.join(d, "dockerd.log"), "w")
            procs.append(subprocess.Popen(
                ["dockerd", "--data-root", os.path.join(d, "data"), "--exec-root", os.path.join(d, "exec"),
                 "--pidfile", os.path.join(d, "pid"), "-H", "unix://" + sock, "--bridge=none",
                 "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
                 "--storage-driver=overlay2"],
                stdout=log, stderr=log, start_new_session=True))
            e = Engine("docker", ["docker", "-H", "unix://" + sock], "containerd-shim-runc-v2")
            for _ in range(200):
                if subprocess.run(e.cmd("version"), capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            sh(e.cmd("import", "-c", 'CMD ["sh"]', tar, "busybox:latest"), stdout=subprocess.DEVNULL)
            engines.append(e)
        if "podman" in want and shutil.which("podman"):
            d = os.path.join(tmp, "podman")
            os.makedirs(d)
            conf = os.path.join(d, "containers.conf")
            with open(conf, "w") as f:
                f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000","nproc=32768:32768"]\n'
                        '[engine]\nruntime = "runc"\n')
            os.environ["CONTAINERS_CONF"] = conf
            e = Engine("podman", ["podman", "--root", os.path.join(d, "root"), "--runroot",
                                  os.path.join(d, "runroot")], "conmon")
            sh(e.cmd("import", "-c", 'CMD ["sh"]', tar, "localhost/busybox:latest"),
               stdout=subprocess.DEVNULL)
            engines.append(e)

        res = {e.name: {} for e in engines}
        # Warm-up, then alternate.
        for e in engines:
            for _ in range(2):
                timed(e.cmd("run", "--rm", "--network", "none", "busybox", "true"))
        runs = {e.name: [] for e in engines}
        for _ in range(a.runs):
            for e in engines:
                time.sleep(0.1)
                runs[e.name].append(timed(e.cmd("run", "--rm", "--network", "none", "busybox", "true")))
        for e in engines:
            res[e.name]["run"] = statistics.median(runs[e.name])

        for e in engines:
            e.clean()
            t = time.perf_counter()
            for _ in range(50):
                sh(e.cmd("run", "-d", "--network", "none", "busybox", "sleep", "1000"),
                   stdout=subprocess.DEVNULL)
            res[e.name]["start50"] = time.perf_counter() - t
            time.sleep(2)
            helpers = pids_named(e.helper)
            mems = [mem_kib(p) for p in helpers]
            # Berth's per-container processes are the monitor and its keeper.
            extra = pids_named("berth-keeper") if e.name == "berth" else []
            kmems = [mem_kib(p) for p in extra]
            for i, k in enumerate(("rss", "pss", "uss")):
                res[e.name][k] = sum(m[i] for m in mems) / max(1, len(helpers)) / 1024.0
                res[e.name][k + "+"] = (sum(m[i] for m in mems) + sum(m[i] for m in kmems)) \
                    / max(1, len(helpers)) / 1024.0
            res[e.name]["helpers"] = len(helpers)
            for _ in range(50):
                sh(e.cmd("create", "--network", "none", "busybox", "true"), stdout=subprocess.DEVNULL)
            ps = []
            for _ in range(a.runs):
                ps.append(timed(e.cmd("ps", "-a")))
            res[e.name]["ps100"] = statistics.median(ps)
            running = e.ids(all_=False)
            res[e.name]["stop50"] = timed(e.cmd("stop", "-t", "0", *running))
            e.clean()

        for e in engines:
            if e.name == "berth":
                res[e.name]["adopt"] = adoption(e, a.runs)

        names = [e.name for e in engines]
        print(f"{'metric':<10}" + "".join(f"{n:>12}" for n in names) +
              "".join(f"{'berth/' + n:>14}" for n in names if n != "berth"))
        for k, unit in (("run", "s"), ("start50", "s"), ("stop50", "s"), ("ps100", "s"), ("rss", "MiB"),
                        ("pss", "MiB"), ("uss", "MiB"), ("rss+", "MiB"), ("pss+", "MiB"), ("uss+", "MiB"),
                        ("adopt", "s")):
            row = f"{k + ' (' + unit + ')':<10}"
            for n in names:
                v = res[n].get(k, res[n].get(k.rstrip("+")))
                row += f"{v:>12.4f}" if v is not None else f"{'-':>12}"
            if "berth" in res and k in res["berth"]:
                for n in names:
                    theirs = res[n].get(k, res[n].get(k.rstrip("+")))
                    if n != "berth" and theirs:
                        row += f"{res['berth'][k] / theirs:>14.3f}"
            print(row)
        print("helpers counted: " + ", ".join(f"{n} {res[n]['helpers']}" for n in names))
    finally:
        for e in engines:
            try:
                e.clean()
            except Exception:
                pass
        for p in procs:
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["umount", "-R", "-l", os.path.join(tmp, "docker", "data")],
                       stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-R", "-l", os.path.join(tmp, "docker", "exec")],
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
