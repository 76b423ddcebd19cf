"""Stage `hair_masks`: the final hair mask M for every image of the chosen splits (or of a
subject-grouped subset of them, ``hair_masks.max_images``), made by the trained segmenter (U²-Net -> prompts -> refiner -> ensemble -> boundary step). This stage owns
every mask the later stages read; an unreadable image is reported, not fatal."""

import argparse
import json
import shutil
import time
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from scalpvision.config import as_dict, load_params
from scalpvision.data.splits import subject_subset
from scalpvision.entry import run_main
from scalpvision.segmentation.batch import SELECTED, segment_to_folder
from scalpvision.segmentation.runtime import runtime_name
from scalpvision.segmentation.store import build_segmenter
from scalpvision.ops.tracking import stage_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.hair_masks
    s = P.segment
    u = P.u2net
    tracking = P.tracking
    torch.set_num_threads(u.threads)
    man = pd.read_csv(p.manifest)
    rows = subject_subset(man[man.split.isin(p.splits)], p.max_images, p.seed)
    out = Path(p.out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with stage_run("hair_masks", {"hair_masks": as_dict(p), "segment": as_dict(s)}, tracking,
                   deps=[p.manifest, u.out_dir]) as _:
        import mlflow

        seg, _ = build_segmenter(u.out_dir, s)
        mlflow.set_tags({"u2net_runtime": runtime_name(seg.u2net), "refiner": seg.refiner.name})
        t0 = time.perf_counter()
        res = segment_to_folder(seg, rows.path, out, progress=lambda it, n: tqdm(
            it, total=n, desc="hair masks", unit="img"))
        elapsed = time.perf_counter() - t0
        rows[["image_id", "split", "group"]].to_csv(out / SELECTED, index=False)
        made, bad = len(res.written), [why for _, _, why in res.failed]
        metrics = {"images": int(len(rows)), "manifest_images": int(len(man)), "segmented": made, "unreadable": len(bad),
                   "seconds_per_image": round(elapsed / made, 3) if made else 0.0}
        mlflow.log_metrics(metrics)
        if bad:
            mlflow.log_text("\n".join(bad), "unreadable.txt")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/hair_masks.json").write_text(json.dumps(metrics, indent=1))
    print(f"hair masks: {metrics} -> {out}/")
    for b in bad:
        print(f"unreadable: {b}")


if __name__ == "__main__":
    run_main(main)
