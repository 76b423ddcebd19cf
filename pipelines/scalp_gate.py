"""Stage `scalp_gate`: the out-of-distribution gate in front of every model. Trained on scalp
frames (built-in, recoloured as other microscopes render them, and half the real CC BY scenes)
against procedural non-scalp images and photographs; measured on parts it never saw - both
error rates (scalp frames refused, non-scalp images passed) per kind of image. Registered as
kind ``scalp_gate`` and left to `promote` (by validation balanced error)."""

import argparse
import json
from pathlib import Path

import numpy as np

from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.gate.model import (
    Novelty, admitted, error_rates, fit_gate, gate_sets, save_gate_dir, set_hash,
)
from scalpvision.ops.promotion import MANIFEST_TAG
from scalpvision.ops.registry import register
from scalpvision.ops.tracking import git_revision, stage_run


def rates_markdown(rates: dict[str, dict]) -> str:
    lines = ["| part | scalp frames refused | non-scalp images passed | balanced error |",
             "|---|---|---|---|"]
    for part, r in rates.items():
        lines.append(f"| {part} | {r['false_refusal_rate']:.3f} of {r['scalp_images']} | "
                     f"{r['false_acceptance_rate']:.3f} of {r['non_scalp_images']} | "
                     f"{r['balanced_error']:.3f} |")
    lines += ["", "Per kind, test part: error = refused for a scalp "
                  "kind, passed for any other", "", "| kind | images | error rate |",
              "|---|---|---|"]
    for k, v in rates["test"]["by_kind"].items():
        lines.append(f"| {k}{' (scalp)' if v['scalp'] else ''} | {v['images']} | "
                     f"{v['error_rate']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    gp = P.scalp_gate
    tracking = P.tracking
    with stage_run("scalp_gate", {"scalp_gate": as_dict(gp)}, tracking,
                   deps=[gp.manifest, *gp.real_dirs]) as run:
        import mlflow

        sets = gate_sets(gp)
        model = fit_gate(sets["train"], gp)
        tr, va = sets["train"], sets["val"]
        novelty = Novelty.fit(tr.x[tr.is_scalp])
        if gp.novelty_quantile < 1:  # the limit is chosen on validation, never on test
            novelty = novelty.with_limit(va.x[va.is_scalp], gp.novelty_quantile)
        rates = {part: error_rates(s, admitted(model, novelty, s.x, gp.threshold))
                 for part, s in sets.items()}
        mlflow.log_metric("novelty_limit", novelty.limit)
        eval_hash = set_hash({p: sets[p].sources for p in ("val", "test")}, gp)
        for part, r in rates.items():
            mlflow.log_metrics({f"{part}_{k}": v for k, v in r.items()
                                if isinstance(v, float) and np.isfinite(v)})
        mlflow.log_dict(rates, "error_rates.json")
        out = Path(gp.out_dir)
        save_gate_dir(out, model, novelty, gp, {**rates, "mlflow_run_id": run.info.run_id})
        version = register("scalp_gate", out, gp.register_name,
                           {"val_balanced_error": rates["val"]["balanced_error"],
                            "test_balanced_error": rates["test"]["balanced_error"]},
                           {MANIFEST_TAG: eval_hash, "git.commit": git_revision(Path("."))[0],
                            "threshold": str(gp.threshold)})
    rep = Path(gp.report_dir)
    rep.mkdir(parents=True, exist_ok=True)
    text = ("### Scalp gate: both error rates\n\nAdmitted = scalp probability >= "
            f"{gp.threshold} and novelty distance <= {novelty.limit:.2f} (the "
            f"{gp.novelty_quantile} quantile of the val scalp frames'). Train {len(sets['train'].kinds)} images; each part's photographs "
            "and procedural seeds are its own; real frames are dealt by scene.\n\n"
            + rates_markdown(rates))
    (rep / "table.md").write_text(text)
    Path("metrics").mkdir(exist_ok=True)
    t = rates["test"]
    Path("metrics/scalp_gate.json").write_text(json.dumps(
        {"test_false_refusal_rate": round(t["false_refusal_rate"], 4),
         "test_false_acceptance_rate": round(t["false_acceptance_rate"], 4),
         "val_balanced_error": round(rates["val"]["balanced_error"], 4),
         "test_balanced_error": round(t["balanced_error"], 4),
         "test_real_frame_refusal_rate": round(
             t["by_kind"].get("real scalp frame", {}).get("error_rate", float("nan")), 4),
         "registered_version": version}, indent=1))
    print(text)


if __name__ == "__main__":
    run_main(main)
