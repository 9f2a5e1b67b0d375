#!/usr/bin/env python3
"""Benchmark: `run` of /bin/true on a busybox bundle, and create -> start -> delete,
for berth-runtime, crun and runc side by side (alternating, medians), as ratios.

crun 1.8 refuses this host's hybrid cgroup layout, so every runtime runs inside the same
wrapper that hides the cgroup2 mount: unshare -m sh -c 'umount /sys/fs/cgroup/unified; ...'.
The wrapper's own cost is measured and reported; berth-runtime and runc also run without it
(on the real hybrid layout). State directories are on /run (tmpfs), each runtime's default.

Usage: scripts/bench-runtime.py [--runs N] [--berth PATH]   (as root)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def wrapped(inner):
    return ["unshare", "-m", "sh", "-c", "umount /sys/fs/cgroup/unified 2>/dev/null; " + inner]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--settle", type=float, default=0.2,
                    help="seconds to wait before each measured command, so the kernel's "
                         "asynchronous teardown of the previous container (network "
                         "namespace cleanup) does not land in the next measurement")
    ap.add_argument("--berth", default=os.path.join(HERE, "..", "target", "release", "berth-runtime"))
    a = ap.parse_args()
    berth = os.path.abspath(a.berth)
    runtimes = {"berth-runtime": berth}
    for name in ("crun", "runc"):
        p = shutil.which(name)
        if p:
            runtimes[name] = p
        else:
            print(f"note: {name} not installed, skipped", file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="bench-runtime-", dir="/run")
    try:
        bundle = os.path.join(tmp, "bundle")
        os.makedirs(bundle)
        sh(["sh", os.path.join(HERE, "mk-busybox-rootfs.sh"), os.path.join(bundle, "rootfs")])
        sh([berth, "spec", "--bundle", bundle])
        cfg_path = os.path.join(bundle, "config.json")
        cfg = json.load(open(cfg_path))
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["/bin/true"]
        json.dump(cfg, open(cfg_path, "w"))
        results = {n: {"run": [], "cycle": []} for n in runtimes}
        results["(wrapper alone)"] = {"run": [], "cycle": []}
        bare = {n: p for n, p in runtimes.items() if n != "crun"}
        for n in bare:
            results[n + " (no wrapper)"] = {"run": [], "cycle": []}
        for i in range(a.runs + 2):
            for name, path in runtimes.items():
                root = os.path.join(tmp, "root-" + name)
                cid = f"b{i}"
                cmd = wrapped(f"exec {path} --root {root} run --bundle {bundle} {cid}")
                time.sleep(a.settle)
                t = time.perf_counter()
                sh(cmd, stdout=subprocess.DEVNULL)
                run_t = time.perf_counter() - t
                cid = f"c{i}"
                seq = (f"{path} --root {root} create --bundle {bundle} {cid} && "
                       f"{path} --root {root} start {cid} && "
                       f"{path} --root {root} delete --force {cid}")
                time.sleep(a.settle)
                t = time.perf_counter()
                sh(wrapped(seq), stdout=subprocess.DEVNULL)
                cyc_t = time.perf_counter() - t
                if i >= 2:  # warm-up rounds are not counted
                    results[name]["run"].append(run_t)
                    results[name]["cycle"].append(cyc_t)
            for name, path in bare.items():
                root = os.path.join(tmp, "root-" + name)
                time.sleep(a.settle)
                t = time.perf_counter()
                sh([path, "--root", root, "run", "--bundle", bundle, f"n{i}"], stdout=subprocess.DEVNULL)
                if i >= 2:
                    results[name + " (no wrapper)"]["run"].append(time.perf_counter() - t)
            time.sleep(a.settle)
            t = time.perf_counter()
            sh(wrapped("true"))
            if i >= 2:
                results["(wrapper alone)"]["run"].append(time.perf_counter() - t)
        med = {n: {k: statistics.median(v) if v else None for k, v in r.items()} for n, r in results.items()}
        base = med.get("crun", med["berth-runtime"])
        w = med["(wrapper alone)"]["run"]
        load = open("/proc/loadavg").read().split()[:3]
        print(f"runs per runtime: {a.runs} (alternating, {a.settle}s settle before each; medians); "
              f"load average {' '.join(load)}\n")
        print("| runtime | `run` /bin/true | vs crun | minus wrapper, vs crun "
              "| create+start+delete | vs crun |")
        print("|---|---|---|---|---|---|")
        for n in runtimes:
            m = med[n]
            net = (m['run'] - w) / (base['run'] - w)
            print(f"| {n} | {m['run']*1000:.1f} ms | {m['run']/base['run']:.2f}x | {net:.2f}x | "
                  f"{m['cycle']*1000:.1f} ms | {m['cycle']/base['cycle']:.2f}x |")
        for n in bare:
            m = med[n + " (no wrapper)"]
            print(f"| {n}, no wrapper | {m['run']*1000:.1f} ms | | | | |")
        print(f"| (wrapper alone) | {w*1000:.1f} ms | | | | |")
    finally:
        for n, path in runtimes.items():
            root = os.path.join(tmp, "root-" + n)
            if os.path.isdir(root):
                for cid in os.listdir(root):
                    subprocess.run(wrapped(f"{path} --root {root} delete --force {cid}"),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
