"""Stage `classifier_augmented`: the loop closes. The classifier of the `classifier` stage
(same backbone, size, epochs, seed) is retrained on the real train split plus each augmented
set of ``augment.classifier_variants`` (joined by manifest, sources checked to be train images)
- or with the Gaussian-noise / AugMix baselines - and scored on the same real test split. The
Table 2 comparison carries each model's 95 % interval and the paired interval of its
difference from the CNN trained on real images only (bootstrap over test subjects)."""

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from scalpvision.augment.generate import MANIFEST, set_dir
from scalpvision.classification.data import join_augmented, load_split_squares, load_squares
from scalpvision.classification.metrics import (
    bootstrap_interval, evaluate, grades_from_proba, macro_f1,
)
from scalpvision.classification.model import CONDITIONS, predict_proba
from scalpvision.classification.predictor import load_classifier_dir
from scalpvision.classification.report import cells_markdown, summary_markdown
from scalpvision.classification.train import train_classifier
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.ops.tracking import stage_run

LABEL = {"diffuseit_m": "+ DiffuseIT-M", "diffuseit": "+ DiffuseIT", "sdedit": "+ SDEdit",
         "gaussian": "+ Gaussian noise", "augmix": "+ AugMix"}


def paired_difference(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, groups,
                      n_boot: int, seed: int) -> tuple[float, float]:
    """95 % interval of macro-F1(a) − macro-F1(b) resampling the same test subjects for both."""
    both = np.concatenate([pred_a, pred_b], axis=1)
    k = pred_a.shape[1]
    return bootstrap_interval(lambda t, p: macro_f1(t, p[:, :k]) - macro_f1(t, p[:, k:]),
                              y, both, groups, n_boot, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    c, a = P.classifier, P.augment
    torch.set_num_threads(c.threads)
    man = pd.read_csv(c.manifest)
    tr_name, va_name, te_name = c.splits
    size = c.model.image_size
    data = load_split_squares(man, c.splits, size)  # normalisation: real train images only
    sq, y, g, norm = data.squares, data.grades, data.groups, data.norm
    base = load_classifier_dir(Path(c.out_dir))
    base_proba = predict_proba(base.model, base.norm.apply(*sq[te_name]))
    base_pred = grades_from_proba(base_proba, c.presence_gate)
    base_name = f"four-head CNN ({c.model.backbone}), real images only"
    results = {base_name: evaluate(y[te_name], base_proba, g[te_name], gate=c.presence_gate,
                                   n_boot=c.bootstrap)}
    diffs, metrics = {}, {"base_test_macro_f1": round(results[base_name]["macro_f1"], 4)}
    for variant in a.classifier_variants:
        extra_n = 0
        if variant in ("gaussian", "augmix"):
            tp = replace(c.train, variant=variant)
            xs, ys = sq[tr_name], y[tr_name]
        else:
            mpath = set_dir(a.out_dir, variant) / MANIFEST
            extra = join_augmented(man, pd.read_csv(mpath), str(mpath))
            ex = load_squares(extra.path, size)
            xs = (np.concatenate([sq[tr_name][0], ex[0]]), np.concatenate([sq[tr_name][1], ex[1]]))
            ys = np.concatenate([y[tr_name], extra[list(CONDITIONS)].to_numpy(int)])
            tp = replace(c.train, variant="manifest", augmented_manifest=str(mpath))
            extra_n = len(extra)
        name = f"four-head CNN ({c.model.backbone}) {LABEL[variant]}"
        with stage_run("classifier_augmented", {"classifier": as_dict(c)}, P.tracking,
                       deps=[c.manifest], tags={"table": "classifier", "variant": variant,
                                                "augmented_images": str(extra_n),
                                                "model_kind": "four_head_cnn"}) as _:
            import mlflow

            model, rec = train_classifier(
                *xs, ys, data.val(va_name), c.model, tp, norm=norm,
                gate=c.presence_gate, on_epoch=lambda ep, h: mlflow.log_metrics(
                    {k: h[k] for k in ("loss", "val_macro_f1")}, step=ep + 1))
            proba = predict_proba(model, norm.apply(*sq[te_name]))
            r = evaluate(y[te_name], proba, g[te_name], gate=c.presence_gate, n_boot=c.bootstrap)
            r_val = evaluate(y[va_name], predict_proba(model, norm.apply(*sq[va_name])),
                             g[va_name], gate=c.presence_gate, n_boot=0)
            lo, hi = paired_difference(y[te_name], grades_from_proba(proba, c.presence_gate),
                                       base_pred, g[te_name], c.bootstrap, 0)
            diff = r["macro_f1"] - results[base_name]["macro_f1"]
            mlflow.log_metrics({"test_macro_f1": r["macro_f1"], "val_macro_f1": r_val["macro_f1"],
                                "test_macro_f1_lo": r["macro_f1_ci"][0],
                                "test_macro_f1_hi": r["macro_f1_ci"][1],
                                "difference_vs_real_only": diff, "difference_lo": lo,
                                "difference_hi": hi})
            mlflow.log_dict(r, "evaluation.json")
        results[name] = r
        diffs[name] = (diff, lo, hi, extra_n, r_val["macro_f1"])
        metrics.update({f"{variant}_test_macro_f1": round(r["macro_f1"], 4),
                        f"{variant}_test_macro_f1_ci": [round(v, 4) for v in r["macro_f1_ci"]],
                        f"{variant}_difference": round(diff, 4),
                        f"{variant}_difference_ci": [round(lo, 4), round(hi, 4)],
                        f"{variant}_val_macro_f1": round(r_val["macro_f1"], 4),
                        f"{variant}_augmented_images": extra_n})
    r0 = results[base_name]
    lines = ["| training set | augmented images | val macro-F1 | test macro-F1 − real only "
             "(95 % paired interval) | helps? |", "|---|---|---|---|---|"]
    for name, (d, lo, hi, n, v) in diffs.items():
        verdict = "yes" if lo > 0 else ("no: worse" if hi < 0 else "not shown (interval spans 0)")
        lines.append(f"| {name} | {n} | {v:.3f} | {d:+.3f} [{lo:+.3f}, {hi:+.3f}] | {verdict} |")
    text = (f"### Does augmentation help? The classifier retrained on each set\n\n"
            f"{r0['images']} real test images of {r0['subjects']} subjects; each model has the "
            f"`classifier` stage's settings ({c.model.backbone}, {size} px, {c.train.epochs} "
            f"epochs, seed {c.train.seed}). Intervals: bootstrap over test subjects, "
            f"{c.bootstrap} resamples.\n\n" + summary_markdown(results) + "\n"
            + "\n".join(lines) + "\n\n### Per cell (paper Table 2 layout): F1 (support)\n\n"
            + cells_markdown(results))
    rep = Path(a.classifier_report_dir)
    rep.mkdir(parents=True, exist_ok=True)
    (rep / "table.md").write_text(text)
    (rep / "results.json").write_text(json.dumps(results, indent=1))
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/classifier_augmented.json").write_text(json.dumps(metrics, indent=1))
    print(text)


if __name__ == "__main__":
    run_main(main)
