"""Scalp-condition classifier on the built-in data: the four-head CNN (``classifier`` params)
against the classical colour/texture baseline and the majority-class predictor, on the real
(non-augmented) test split, with 95 % intervals by bootstrap over test subjects; the presence
heads scored against the real CC BY frames' condition boxes; training images/s and inference
latency at batch 1 and 16.

    .venv/bin/python benchmarks/classifier.py [--params params.yaml] [--variant baseline]

Needs the pipeline's ``data/manifest.csv``. The `classifier` DVC stage trains and scores the
same models for the pipeline; this script is for variants and for timing
(docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _report import reported
from scalpvision.classification.baseline import ConditionGbm, feature_table
from scalpvision.classification.data import load_split_squares
from scalpvision.classification.metrics import evaluate, majority_proba
from scalpvision.classification.model import CONDITIONS, predict_proba
from scalpvision.classification.predictor import ClassifierPredictor
from scalpvision.classification.real_frames import score_real_frames
from scalpvision.classification.report import cells_markdown, summary_markdown
from scalpvision.classification.train import train_classifier
from scalpvision.config import load_params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--variant", default=None, help="override classifier.train.variant")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one parameter, e.g. classifier.train.imbalance=weighted")
    ap.add_argument("--save", default="", help="also save the trained CNN as a model directory "
                                               "(for `scalpvision classify --model`)")
    args = ap.parse_args()
    import yaml

    over = {"classifier.train.variant": args.variant} if args.variant else {}
    over.update({k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)})
    P = load_params(args.params, overrides=over)
    c = P.classifier
    torch.set_num_threads(c.threads)
    tr_name, va_name, te_name = c.splits
    size = c.model.image_size
    d = load_split_squares(pd.read_csv(c.manifest), c.splits, size)
    parts, sq, y, g, norm = d.rows, d.squares, d.grades, d.groups, d.norm
    val = d.val(va_name)

    t0 = time.perf_counter()
    model, rec = train_classifier(*sq[tr_name], y[tr_name], val, c.model, c.train, norm=norm,
                                  gate=c.presence_gate)
    train_s = time.perf_counter() - t0
    if args.save:
        from scalpvision.classification.predictor import save_classifier_dir

        save_classifier_dir(Path(args.save), model, c.model, norm, c.presence_gate, rec)
    xt = norm.apply(*sq[te_name])
    rows = {f"four-head CNN ({c.model.backbone}, {c.train.variant})":
            evaluate(y[te_name], predict_proba(model, xt), g[te_name], gate=c.presence_gate,
                     n_boot=c.bootstrap)}
    gbm = ConditionGbm(n_estimators=c.baseline_estimators, seed=c.train.seed)
    gbm.fit(feature_table(list(parts[tr_name].path)), y[tr_name])
    rows["classical colour/texture GBM"] = evaluate(
        y[te_name], gbm.predict_proba(feature_table(list(parts[te_name].path))), g[te_name],
        gate=c.presence_gate, n_boot=c.bootstrap)
    rows["majority class"] = evaluate(y[te_name], majority_proba(y[tr_name], len(xt)),
                                      g[te_name], gate=c.presence_gate, n_boot=c.bootstrap)

    # latency and throughput
    model.eval()
    lat = {}
    with torch.no_grad():
        for b in (1, 16):
            xb = xt[:b] if len(xt) >= b else xt[:1].repeat(b, 1, 1, 1)
            model(xb)
            t = time.perf_counter()
            for _ in range(5):
                model(xb)
            lat[b] = (time.perf_counter() - t) / 5
    ips = np.mean([h["images_per_second"] for h in rec["history"]])

    real = score_real_frames(ClassifierPredictor(model, size, norm, c.presence_gate, {}).predict,
                             Path(c.real_frames_dir)) if c.real_frames_dir else {}

    with reported("classifier" + "".join(f"_{v}" for v in over.values())):
        r0 = next(iter(rows.values()))
        print(f"Test split: {r0['images']} images, {r0['subjects']} subjects; train "
              f"{len(parts[tr_name])} images; {c.model.backbone} from {rec['init']} weights, "
              f"{c.model.image_size} px, {c.train.epochs} epochs (best {rec['best_epoch']}, "
              f"validation macro-F1 {max(h['val_macro_f1'] for h in rec['history']):.3f}), "
              f"imbalance {c.train.imbalance}. Macro-F1 with 95 % interval (bootstrap over "
              f"test subjects, {c.bootstrap} resamples); gate = presence < {c.presence_gate} "
              "grades 0 (headline).\n")
        print(summary_markdown(rows))
        print("Per cell (paper Table 2 layout): F1 (support)\n")
        print(cells_markdown(rows))
        if real:
            print(f"\nPresence heads on the real CC BY frames ({real['scenes']} scenes; boxes "
                  "mapped d/ds -> dandruff, o -> sebum, s -> erythema, approximate): AUC " +
                  ", ".join(f"{k} {real[k]:.3f} ({real[k + '_positive_scenes']} positive)"
                            for k in CONDITIONS))
        print(f"\nTraining: {ips:.1f} images/s ({train_s:.0f} s for {c.train.epochs} epochs on "
              f"{len(parts[tr_name])} images); inference at {size} px: batch 1 "
              f"{lat[1] * 1000:.1f} ms, batch 16 {lat[16] * 1000:.1f} ms "
              f"({lat[16] / 16 * 1000:.1f} ms an image).")


if __name__ == "__main__":
    main()
