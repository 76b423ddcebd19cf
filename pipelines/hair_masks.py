"""Stage `hair_masks`: the final hair mask M for every image of the chosen splits, made by the
trained segmenter (U²-Net -> prompts -> refiner -> ensemble). Masks seg_eval already made with
the same segmenter are copied, not recomputed; an unreadable image is reported, not fatal."""

import argparse
import json
import shutil
import time
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from scalpvision.config import as_dict, load_section
from scalpvision.entry import run_main
from scalpvision.io import ImageReadError, iter_images, write_mask
from scalpvision.segmentation.runtime import runtime_name
from scalpvision.segmentation.store import build_segmenter
from scalpvision.tracking import stage_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_section("hair_masks", args.params)
    s = load_section("segment", args.params)
    u = load_section("u2net", args.params)
    tracking = load_section("tracking", args.params)
    torch.set_num_threads(u.threads)
    man = pd.read_csv(p.manifest)
    rows = man[man.split.isin(p.splits)]
    out = Path(p.out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    reuse = Path(p.reuse_dir)
    refiner_name = ""
    made, copied, bad, elapsed = 0, 0, [], 0.0
    with stage_run("hair_masks", {"hair_masks": as_dict(p)}, tracking,
                   deps=[p.manifest, u.out_dir]) as _:
        import mlflow

        todo = []
        for r in rows.itertuples():
            stem = Path(r.path).stem
            if (reuse / f"{stem}.png").is_file():
                shutil.copy2(reuse / f"{stem}.png", out / f"{stem}.png")
                copied += 1
            else:
                todo.append(r.path)

        if todo:
            seg, _ = build_segmenter(u.out_dir, s)
            refiner_name = seg.refiner.name
            mlflow.set_tag("u2net_runtime", runtime_name(seg.u2net))
            t0 = time.perf_counter()
            for path, res in tqdm(seg.map(iter_images(todo)), total=len(todo), desc="hair masks",
                                  unit="img"):
                if isinstance(res, Exception):  # reported, never fatal for the batch
                    bad.append(str(res) if isinstance(res, ImageReadError)
                               else f"{path}: {type(res).__name__}: {res}")
                    continue
                write_mask(out / f"{Path(path).stem}.png", res.final)
                made += 1
            elapsed = time.perf_counter() - t0
        metrics = {"images": int(len(rows)), "segmented": made, "reused": copied,
                   "unreadable": len(bad),
                   "seconds_per_image": round(elapsed / made, 3) if made else 0.0}
        mlflow.log_metrics(metrics)
        mlflow.set_tag("refiner", refiner_name or "reused")
        if bad:
            mlflow.log_text("\n".join(bad), "unreadable.txt")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/hair_masks.json").write_text(json.dumps(metrics, indent=1))
    print(f"hair masks: {metrics} -> {out}/")
    for b in bad:
        print(f"unreadable: {b}")


if __name__ == "__main__":
    run_main(main)
