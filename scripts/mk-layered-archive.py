#!/usr/bin/env python3
"""Write a docker-archive with N layers of random data (for pull/push/unpack benchmarks).

usage: mk-layered-archive.py OUT.tar LAYERS MB_PER_LAYER NAME:TAG

Layer 0 is the busybox rootfs when /bin/busybox exists (so the image runs); every layer
adds /data/layerN with MB_PER_LAYER MiB of random bytes. `docker load` and `berth load`
both read the result.
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile


def layer_bytes(i, mb):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        d = tarfile.TarInfo("data")
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        t.addfile(d)
        data = os.urandom(mb * 1024 * 1024)
        f = tarfile.TarInfo(f"data/layer{i}")
        f.size = len(data)
        f.mode = 0o644
        t.addfile(f, io.BytesIO(data))
    return buf.getvalue()


def main():
    out, layers, mb, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    blobs = []
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.exists("/bin/busybox"):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "rootfs.tar")
            subprocess.run(["sh", os.path.join(here, "mk-busybox-tar.sh"), p], check=True)
            with open(p, "rb") as f:
                blobs.append(f.read())
    for i in range(layers):
        blobs.append(layer_bytes(i, mb))
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(blobs))],
    }, separators=(",", ":")).encode()
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        def add(path, data):
            ti = tarfile.TarInfo(path)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        paths = []
        for i, b in enumerate(blobs):
            p = f"{diff_ids[i][7:]}/layer.tar"
            add(p, b)
            paths.append(p)
        add(cfg_name, config)
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": [name], "Layers": paths}]).encode())


if __name__ == "__main__":
    main()
