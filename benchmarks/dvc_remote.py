"""DVC push / pull of many small images through an S3 remote on the team object store.

    .venv/bin/python benchmarks/dvc_remote.py [--images 2000] [--jobs 16]

Starts a :class:`~scalpvision.ops.team_server.TeamServer` (only its object store is used),
writes ``--images`` distinct 640x480 JPEGs (about the size of the AI-Hub frames) into 20
sub-folders of a fresh DVC repository, then times ``dvc add``, ``dvc push``, and ``dvc pull``
into an empty cache and workspace; extrapolates to the 95,910 images of the real data set.
Prints a markdown table (kept in reports/benchmarks/dvc_remote.md) and writes
metrics/dvc_remote.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AIHUB_IMAGES = 95_910


def _images(folder: Path, n: int, seed: int = 0) -> int:
    import cv2

    rng = np.random.default_rng(seed)
    total = 0
    for k in range(n):
        small = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
        im = cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC)
        im = cv2.add(im, rng.integers(0, 12, im.shape, dtype=np.uint8))  # sensor-like grain
        p = folder / f"part-{k % 20:02d}" / f"img_{k:06d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), im, [cv2.IMWRITE_JPEG_QUALITY, 85])
        total += p.stat().st_size
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=16)
    args = ap.parse_args()
    from scalpvision.ops.team_server import TeamServer

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    tmp = Path(tempfile.mkdtemp(prefix="sv-dvc-bench-"))

    def sh(*cmd: str, cwd: Path) -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0

    try:
        with TeamServer(tmp / "team", admin_password="bench-admin-password") as ts:
            repo = tmp / "repo"
            repo.mkdir()
            sh("git", "init", "-q", cwd=repo)
            sh("dvc", "init", "-q", cwd=repo)
            for cmd in ts.dvc_remote_commands():
                sh(*cmd, cwd=repo)
            sh("dvc", "remote", "modify", "s3remote", "jobs", str(args.jobs), cwd=repo)
            sh("dvc", "remote", "default", "s3remote", cwd=repo)
            sh("dvc", "config", "core.checksum_jobs", str(os.cpu_count() or 1), cwd=repo)
            sh("dvc", "config", "cache.type", "reflink,hardlink,copy", cwd=repo)
            size = _images(repo / "images", args.images)
            t_add = sh("dvc", "add", "-q", "images", cwd=repo)
            t_push = sh("dvc", "push", "-q", cwd=repo)
            shutil.rmtree(repo / "images")
            shutil.rmtree(repo / ".dvc" / "cache")
            t_pull = sh("dvc", "pull", "-q", cwd=repo)
            n = len(list((repo / "images").rglob("*.jpg")))
            assert n == args.images, f"pulled {n} of {args.images}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mb = size / 2**20
    scale = AIHUB_IMAGES / args.images
    res = {"images": args.images, "megabytes": round(mb, 1), "jobs": args.jobs,
           "add_seconds": round(t_add, 1), "push_seconds": round(t_push, 1),
           "pull_seconds": round(t_pull, 1),
           "push_files_per_second": round(args.images / t_push, 1),
           "pull_files_per_second": round(args.images / t_pull, 1),
           "push_mb_per_second": round(mb / t_push, 2), "pull_mb_per_second": round(mb / t_pull, 2),
           "extrapolated_aihub_push_minutes": round(t_push * scale / 60, 1),
           "extrapolated_aihub_pull_minutes": round(t_pull * scale / 60, 1),
           "extrapolated_aihub_add_minutes": round(t_add * scale / 60, 1)}
    md = ["### DVC push / pull through the S3 remote (SeaweedFS on 127.0.0.1, 2 cores)", "",
          "| images | MB | jobs | dvc add s | push s | pull s | push files/s | pull files/s |"
          " 95,910 images: push / pull min |", "|" + "---|" * 9,
          f"| {args.images} | {mb:.0f} | {args.jobs} | {t_add:.1f} | {t_push:.1f} | {t_pull:.1f}"
          f" | {res['push_files_per_second']} | {res['pull_files_per_second']} |"
          f" {res['extrapolated_aihub_push_minutes']} / {res['extrapolated_aihub_pull_minutes']} |",
          "", "Extrapolation is linear in the number of files (per-file requests dominate at "
          "these sizes); a remote across a network adds its round-trip time per request, which "
          "more `jobs` hide.", ""]
    (ROOT / "metrics").mkdir(exist_ok=True)
    (ROOT / "metrics" / "dvc_remote.json").write_text(json.dumps(res, indent=1))
    print("\n".join(md))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _report import reported

    with reported("dvc_remote"):
        main()
