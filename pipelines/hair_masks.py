"""Stage `hair_masks`: the final hair mask M for every image of the chosen splits (or of a
subject-grouped subset of them, ``hair_masks.max_images``), made by the trained segmenter (U²-Net -> prompts -> refiner -> ensemble -> boundary step). This stage owns
every mask the later stages read; an unreadable image is reported, not fatal."""

import argparse
import json
import shutil
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from scalpvision.config import as_dict, load_params
from scalpvision.data.splits import subject_subset
from scalpvision.entry import run_main
from scalpvision.ops.engine import collect, fingerprint, run_shards
from scalpvision.ops.tracking import stage_run
from scalpvision.segmentation.batch import SELECTED, SegmentShards, merge_results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.hair_masks
    s = P.segment
    u = P.u2net
    tracking = P.tracking
    ex = P.execution
    man = pd.read_csv(p.manifest)
    rows = subject_subset(man[man.split.isin(p.splits)], p.max_images, p.seed)
    out = Path(p.out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with stage_run("hair_masks", {"hair_masks": as_dict(p), "segment": as_dict(s)}, tracking,
                   deps=[p.manifest, u.out_dir]) as _:
        import mlflow

        task = SegmentShards(u.out_dir, s, u.threads)
        work = Path(f"{out}.shards")  # finished shards of an interrupted run are kept here
        key = fingerprint("hair_masks", as_dict(s), list(rows.path), files=[u.out_dir, *rows.path])
        t0 = time.perf_counter()
        records = run_shards(task, list(rows.path), ex, work, key, progress=lambda it, n: tqdm(
            it, total=n, desc=f"hair masks ({ex.engine}, {ex.shard_size} per shard)",
            unit="shard"))
        elapsed = time.perf_counter() - t0
        collect(work, key, out)
        res = merge_results(records)
        mlflow.set_tags({"u2net_runtime": records[0]["runtime"] if records else "",
                         "refiner": records[0]["refiner"] if records else "",
                         "engine": ex.engine})
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
