"""Stage `import`: AI-Hub tree (or flat label tables) -> data/interim/images.csv + quarantine."""

import argparse
import json
import shutil
from pathlib import Path

from tqdm import tqdm

from scalpvision.config import as_dict, load_params
from scalpvision.data.aihub import accept_import, import_label_tables, import_tree
from scalpvision.entry import run_main
from scalpvision.ops.tracking import stage_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P["import"]
    tracking = P.tracking
    out = Path(p.out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with stage_run("import", {"import": as_dict(p)}, tracking, deps=[p.source]) as _:
        import mlflow

        if p.label_tables:
            res = import_label_tables(list(p.label_tables))
        else:
            res = import_tree(p.source, (p.expected_width, p.expected_height),
                              p.ground_truth_dir or None,
                              progress=lambda xs: tqdm(xs, desc="import", unit="img"))
        res.images.to_csv(out / "images.csv", index=False)
        res.quarantine.to_csv(out / "quarantine.csv", index=False)
        for rec in res.quarantine.itertuples():  # keep a copy of every bad file for inspection
            src = Path(rec.file)
            if src.is_file():
                dst = out / "quarantine" / rec.reason / src.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        conflicts = res.stats.pop("conflicts", [])
        stats = {**res.stats, "bad_share": round(res.bad_share, 5)}
        mlflow.log_metrics({k: float(v) for k, v in stats.items()})
        mlflow.log_artifact(str(out / "quarantine.csv"))
        Path("metrics").mkdir(exist_ok=True)
        Path("metrics/import.json").write_text(json.dumps(stats, indent=1))
        for rec in res.quarantine.itertuples():
            print(f"quarantined {rec.file}: {rec.reason} ({rec.detail})")
        accept_import(conflicts, res.bad_share, p.max_bad_share, out / "quarantine.csv")
    print(f"imported {stats.get('unique_images', stats.get('rows'))} images, quarantined "
          f"{stats['quarantined']} -> {out / 'images.csv'}")


if __name__ == "__main__":
    run_main(main)
