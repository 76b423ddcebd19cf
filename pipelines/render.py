"""Stage `render`: the built-in synthetic scalp data set in the AI-Hub layout (+ ground truth)."""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scalpvision.config import as_dict, load_params
from scalpvision.data.synthetic_dataset import render_dataset
from scalpvision.entry import run_main
from scalpvision.io import read_image, write_image
from scalpvision.ops.tracking import stage_run
from scalpvision.viz import contact_sheet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.render
    tracking = P.tracking
    out = Path(p.out_dir)
    with stage_run("render", {"render": as_dict(p)}, tracking) as _:
        import mlflow

        if out.exists():
            shutil.rmtree(out)
        summary, plans = render_dataset(p, out, progress=lambda it, total: tqdm(
            it, total=total, desc="render", unit="img"))
        # contact sheet: the first image of each alopecia grade, then of each other condition
        picks, caps = [], []
        for col in ("value_6", "value_1", "value_2", "value_3", "value_4", "value_5"):
            for g in (0, 3):
                hit = next((pl for pl in plans if pl.values[col] == g and pl not in picks), None)
                if hit and len(picks) < 12:
                    picks.append(hit)
                    caps.append(f"{col}={g} | " + "".join(str(v) for v in hit.values.values()))
        images = [read_image(next(out.rglob(pl.file_name))) for pl in picks]
        sheet = contact_sheet(images, caps, cols=4)
        write_image(p.contact_sheet, sheet, quality=90)
        mlflow.log_metrics({k: float(v) for k, v in summary.items()})
        mlflow.log_artifact(p.contact_sheet)
        counts = np.array([pl.values["value_6"] for pl in plans])
        summary["alopecia_grade_counts"] = np.bincount(counts, minlength=4).tolist()
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/render.json").write_text(json.dumps(summary, indent=1))
    print(f"rendered {summary['images']} images ({summary['filings']} filings) into {out}; "
          f"contact sheet {p.contact_sheet}")


if __name__ == "__main__":
    run_main(main)
