"""Stage `split`: grouped (subject), stratified (4 targets), deterministic train/val/test."""

import argparse
import json
from pathlib import Path

import pandas as pd

from scalpvision.config import as_dict, load_params
from scalpvision.data.layout import TARGET_COLUMNS
from scalpvision.data.splits import grouped_stratified_split
from scalpvision.entry import run_main
from scalpvision.ops.tracking import stage_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--images", default="data/interim/images.csv")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.split
    tracking = P.tracking
    df = pd.read_csv(args.images)
    with stage_run("split", {"split": as_dict(p)}, tracking, deps=[args.images]) as _:
        import mlflow

        if "split" not in df.columns:  # flat label tables keep their own split
            df["split"] = grouped_stratified_split(
                df, {"train": p.train, "val": p.val, "test": p.test}, p.seed)
        Path(p.manifest).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(p.manifest, index=False)
        stats = {f"n_{s}": int((df["split"] == s).sum()) for s in ("train", "val", "test")}
        stats.update({f"groups_{s}": int(df.loc[df["split"] == s, "group"].nunique())
                      for s in ("train", "val", "test")})
        dist = {t: {s: df.loc[df["split"] == s, t].value_counts().sort_index().to_dict()
                    for s in ("train", "val", "test")} for t in TARGET_COLUMNS}
        mlflow.log_metrics({k: float(v) for k, v in stats.items()})
        mlflow.log_dict(dist, "grade_distribution.json")
    Path("metrics/split.json").write_text(json.dumps({**stats, "grades": json.loads(
        json.dumps(dist, default=int))}, indent=1, default=int))
    print("split: " + ", ".join(f"{k}={v}" for k, v in stats.items()))


if __name__ == "__main__":
    run_main(main)
