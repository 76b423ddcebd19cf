"""Stage `features`: the per-image hair feature table (paper Table 7 + calibrated extras) from
the final masks, the Kim et al. baseline feature (mean thickness of a global-Otsu mask), and
the features' accuracy against ground truth where it is known (count, width, width grid)."""

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.features.accuracy import errors_by_width, grid_summary, image_errors, width_grid
from scalpvision.features.batch import FeatureShards
from scalpvision.features.table import SETTINGS_FILE, feature_settings
from scalpvision.ops.engine import fingerprint, run_shards
from scalpvision.ops.tracking import stage_run
from scalpvision.segmentation.batch import SELECTED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.features
    tracking = P.tracking
    man = pd.read_csv(p.manifest)
    masks = Path(p.masks_dir)
    n_manifest = len(man)
    if (masks / SELECTED).is_file():  # hair_masks segmented a subset (hair_masks.max_images)
        man = man[man.image_id.isin(pd.read_csv(masks / SELECTED).image_id)]
    count = p.count
    ex = P.execution
    items = json.loads(man.to_json(orient="records"))  # plain values, as every engine sees them
    with stage_run("features", {"features": as_dict(p)}, tracking,
                   deps=[p.manifest, p.masks_dir],
                   tags={"count_method": count.method, "engine": ex.engine}) as _:
        import mlflow

        work = Path(f"{p.out}.shards")
        key = fingerprint("features", as_dict(p), items, files=[p.masks_dir, *man.path])
        records = run_shards(FeatureShards(p), items, ex, work, key, progress=lambda it, n: tqdm(
            it, total=n, desc=f"features ({ex.engine})", unit="shard"), gpu=False)
        shutil.rmtree(work)
        rows = [row for r in records for row in r["rows"]]
        missing = [m for r in records for m in r["missing"]]
        bad = [b for r in records for b in r["unreadable"]]
        df = pd.DataFrame(rows)
        out = Path(p.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        # how the table was measured: the alopecia model trained on it carries this into the
        # registry, and the service measures new masks the same way
        (out.parent / SETTINGS_FILE).write_text(json.dumps(feature_settings(p), indent=1))
        rep = Path(p.report_dir)
        rep.mkdir(parents=True, exist_ok=True)
        grid = width_grid(p.grid_widths, p.grid_angles)
        grid.to_csv(rep / "width_grid.csv", index=False)
        gsum = grid_summary(grid)
        acc, by_width = {}, {}
        if "gt_hair_count" in df:
            for src, prefix in (("segmenter mask M", ""), ("ground-truth mask", "gtmask_")):
                for split in sorted(df.split.unique()):
                    e = image_errors(df[df.split == split], prefix)
                    if e:
                        acc[f"{src} / {split}"] = e
                by_width[src] = errors_by_width(df[df.split == "test"], prefix)
        lines = ["### Width against truth: drawn hairs at every angle (px)", "",
                 gsum.to_markdown(index=False, floatfmt=".3f"), ""]
        if acc:
            lines += [f"### Count ({count.method}) and mean width against the built-in truth",
                      "", pd.DataFrame(acc).T.to_markdown(floatfmt=".3f"), ""]
            for src, t in by_width.items():
                lines += [f"### Test split by true mean hair width: {src}", "",
                          t.to_markdown(index=False, floatfmt=".3f"), ""]
        (rep / "accuracy.md").write_text("\n".join(lines))
        metrics = {"images": len(df), "manifest_images": n_manifest, "missing_mask": len(missing), "unreadable": len(bad),
                   "count_method": count.method,
                   "grid_worst_abs_error_px": round(float(gsum.worst_abs_error_px.max()), 3)}
        for key, e in acc.items():
            if key.endswith("/ test"):
                tag = "M" if key.startswith("segmenter") else "gt_mask"
                metrics.update({f"test_{tag}.{k}": round(v, 4) for k, v in e.items()
                                if k != "images"})
        mlflow.log_metrics({k.replace(".", "_"): v for k, v in metrics.items()
                            if not isinstance(v, str)})
        mlflow.log_artifacts(str(rep), artifact_path="features_report")
        if missing:
            mlflow.log_text("\n".join(missing), "missing_masks.txt")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/features.json").write_text(json.dumps(metrics, indent=1))
    print((rep / "accuracy.md").read_text())
    if missing:
        print(f"{len(missing)} image(s) have no mask in {p.masks_dir}: e.g. {missing[:3]}")
    for b in bad:
        print(f"unreadable: {b}")


if __name__ == "__main__":
    run_main(main)
