"""What the real data set costs on N machines, from per-image costs measured here.

    .venv/bin/python benchmarks/cost_model.py [--images 95910] [--pairs 50000]
        [--workers 1 8 64] [--gpu-tflops 989] [--mfu 0.3]

Measured inputs (from the last pipeline run in this checkout): ``metrics/hair_masks.json``
(segmentation seconds per image, 2 CPU cores), ``hair_features`` on the run's masks (timed
here), ``reports/augment/results.json``
(DiffuseIT-M seconds per image with the offline default backbone on this CPU). The paper
profile (ADM-256 + DINO ViT-B/8, exact mode: 129 U-Net forwards + backwards, 131 + 129 DINO)
is counted in FLOPs by ``benchmarks/augment.py``'s counters; its GPU time is FLOPs /
(``--gpu-tflops`` x ``--mfu``), an **assumption** (no GPU was measured), stated in the table.
Batch stages scale with Ray actors (one per worker; every image is independent), so N workers
divide the wall time by N up to the storage bandwidth.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _features_seconds(n: int = 20) -> float | None:
    from scalpvision.config import load_params
    from scalpvision.features.table import hair_features
    from scalpvision.io import read_mask

    count = load_params(ROOT / "params.yaml").features.count

    masks = sorted((ROOT / "data" / "hair_masks").glob("*.png"))[:n]
    if not masks:
        return None
    loaded = [read_mask(m) for m in masks]
    t0 = time.perf_counter()
    for m in loaded:
        hair_features(m, count=count)
    return (time.perf_counter() - t0) / len(loaded)


def _hours(seconds: float) -> str:
    h = seconds / 3600
    return f"{h:,.1f} h" if h >= 1 else f"{seconds / 60:,.1f} min"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=95_910)
    ap.add_argument("--pairs", type=int, default=50_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--gpu-tflops", type=float, default=989.0,
                    help="peak dense TFLOP/s of one GPU (H200 BF16: 989)")
    ap.add_argument("--mfu", type=float, default=0.3, help="assumed share of the peak reached")
    args = ap.parse_args()
    from augment import unet_costs, vit_costs

    hm = json.loads((ROOT / "metrics" / "hair_masks.json").read_text()) \
        if (ROOT / "metrics" / "hair_masks.json").is_file() else {}
    aug_file = ROOT / "reports" / "augment" / "results.json"
    aug = json.loads(aug_file.read_text()) if aug_file.is_file() else {}
    dm = next((v for k, v in aug.get("sets", {}).items() if k.startswith("diffuseit_m")), {})
    u, v = unet_costs(256), vit_costs()
    flops = 129 * (u["forward"] + u["backward_input"]) + 131 * v["forward"] + \
        129 * v["backward_input"]
    gpu_s = flops / (args.gpu_tflops * 1e12 * args.mfu)
    rows = [("segmentation (hair_masks), 2-core CPU worker", hm.get("seconds_per_image"),
             args.images, "measured: metrics/hair_masks.json"),
            ("hair features, 2-core CPU worker", _features_seconds(), args.images,
             "measured here on data/hair_masks"),
            ("DiffuseIT-M, offline default backbone, 2-core CPU worker",
             dm.get("seconds_per_image"), args.pairs, "measured: reports/augment/results.json"),
            (f"DiffuseIT-M, paper profile (ADM-256 + ViT-B/8, exact), one GPU at "
             f"{args.gpu_tflops:g} TFLOP/s x {args.mfu:g}", gpu_s, args.pairs,
             f"**assumed**: {flops / 1e15:.3f} PFLOP/image counted, GPU not measured")]
    head = " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in args.workers)
    print("### Cost model: the real data set on N workers (wall time)\n")
    print(f"| stage | s / image | items | {head} | per-image cost from |")
    print("|---|---|---|" + "---|" * len(args.workers) + "---|")
    for name, s, n, src in rows:
        if s is None:
            print(f"| {name} | - | {n:,} |" + " - |" * len(args.workers) + f" {src} (missing) |")
            continue
        cells = " | ".join(_hours(s * n / w) for w in args.workers)
        print(f"| {name} | {s:.3f} | {n:,} | {cells} | {src} |")
    print("\nWorkers are Ray actors (one model each); N workers divide the wall time while "
          "every item is independent. GPU rows assume the stated throughput.")


if __name__ == "__main__":
    from _report import reported

    with reported("cost_model"):
        main()
