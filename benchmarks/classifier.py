"""Scalp-condition classifier on the built-in data: the four-head CNN (``classifier`` params)
against the classical colour/texture baseline and the majority-class predictor, on the real
(non-augmented) test split, with 95 % intervals by bootstrap over test subjects; the presence
heads scored against the real CC BY frames' condition boxes; training images/s and inference
latency at batch 1 and 16.

    .venv/bin/python benchmarks/classifier.py [--params params.yaml] [--variant baseline]

Needs the pipeline's ``data/manifest.csv`` (and ``data/hair_masks`` for the baseline's scalp
region; without it the whole frame is used). Not yet a DVC stage: see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _report import reported
from scalpvision.classification.baseline import FEATURES, ConditionGbm, scalp_features
from scalpvision.classification.data import Normalisation, load_squares
from scalpvision.classification.metrics import evaluate, majority_proba
from scalpvision.classification.model import CONDITIONS, predict_proba
from scalpvision.classification.predictor import ClassifierPredictor
from scalpvision.classification.train import train_classifier
from scalpvision.config import load_params
from scalpvision.io import read_image, read_mask

REAL = Path("../shared/data/real-scalp-ccby")
REAL_CLASSES = {0: "dandruff", 1: "dandruff", 2: "sebum", 3: "erythema"}  # d, ds, o, s


def _baseline_x(df: pd.DataFrame, masks: Path) -> np.ndarray:
    rows = []
    for r in df.itertuples():
        m = masks / f"{r.image_id}.png"
        f = scalp_features(read_image(r.path), read_mask(m) if m.is_file() else None)
        rows.append([f[k] for k in FEATURES])
    return np.asarray(rows)


def _ci(r):
    lo, hi = r["macro_f1_ci"]
    return f"{r['macro_f1']:.3f} [{lo:.3f}, {hi:.3f}]"


def _real_presence(predict) -> dict[str, float]:
    """AUC of each presence probability against the real frames' boxes, per scene (the mean
    probability over a scene's exports; a scene is positive when any export has the box)."""
    from sklearn.metrics import roc_auc_score

    imgs = sorted((REAL / "images").glob("*.jpg"))
    if not imgs:
        return {}
    probs = np.concatenate([predict([read_image(p) for p in imgs[i:i + 32]])["presence"]
                            for i in range(0, len(imgs), 32)])
    lab = np.zeros((len(imgs), 3), int)
    for i, p in enumerate(imgs):
        txt = REAL / "labels" / (p.stem + ".txt")
        for line in txt.read_text().split("\n") if txt.is_file() else []:
            if line.strip():
                lab[i, CONDITIONS.index(REAL_CLASSES[int(line.split()[0])])] = 1
    scene = np.array([p.name.split("_jpg.rf.")[0] for p in imgs])
    out = {"scenes": len(set(scene))}
    for k, c in enumerate(CONDITIONS):
        d = pd.DataFrame({"s": scene, "y": lab[:, k], "p": probs[:, k]}).groupby("s").agg(
            {"y": "max", "p": "mean"})
        out[c] = float(roc_auc_score(d.y, d.p)) if 0 < d.y.sum() < len(d) else float("nan")
        out[f"{c}_positive_scenes"] = int(d.y.sum())
    return out


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
    df = pd.read_csv(c.manifest)
    tr_name, va_name, te_name = c.splits
    parts = {s: df[df.split == s].reset_index(drop=True) for s in c.splits}
    size = c.model.image_size
    sq = {s: load_squares(d.path, size) for s, d in parts.items()}
    y = {s: d[list(CONDITIONS)].to_numpy(int) for s, d in parts.items()}
    g = {s: d.group.to_numpy() for s, d in parts.items()}
    norm = Normalisation.measure(*sq[tr_name])
    val = (*sq[va_name], y[va_name], g[va_name])

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
    masks = Path("data/hair_masks")
    gbm = ConditionGbm(n_estimators=c.baseline_estimators, seed=c.train.seed)
    gbm.fit(_baseline_x(parts[tr_name], masks), y[tr_name])
    rows["classical colour/texture GBM"] = evaluate(
        y[te_name], gbm.predict_proba(_baseline_x(parts[te_name], masks)), g[te_name],
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

    real = _real_presence(ClassifierPredictor(model, size, norm, c.presence_gate, {}).predict)

    with reported("classifier" + "".join(f"_{v}" for v in over.values())):
        r0 = next(iter(rows.values()))
        print(f"Test split: {r0['images']} images, {r0['subjects']} subjects; train "
              f"{len(parts[tr_name])} images; {c.model.backbone} from {rec['init']} weights, "
              f"{c.model.image_size} px, {c.train.epochs} epochs (best {rec['best_epoch']}), "
              f"imbalance {c.train.imbalance}. Macro-F1 with 95 % interval (bootstrap over "
              f"test subjects, {c.bootstrap} resamples); gate = presence < {c.presence_gate} "
              "grades 0 (headline).\n")
        print("| model | macro-F1 (gated) [95 % CI] | macro-F1 (no gate) [95 % CI] | "
              "QWK d / s / e | within-one d / s / e | presence AUC d / s / e | ECE d / s / e |")
        print("|---|---|---|---|---|---|---|")
        for name, r in rows.items():
            ug = {"macro_f1": r["macro_f1_ungated"], "macro_f1_ci": r["macro_f1_ungated_ci"]}
            f = lambda key: " / ".join(f"{r[k][key]:.2f}" for k in CONDITIONS)  # noqa: E731
            print(f"| {name} | {_ci(r)} | {_ci(ug)} | {f('qwk')} | {f('within_one')} | "
                  f"{f('presence_auc')} | {f('ece')} |")
        print("\nPer cell (paper Table 2 layout): F1 (support)\n")
        cells = list(r0["cells"])
        print("| model | " + " | ".join(cells) + " |")
        print("|---|" + "---|" * len(cells))
        for name, r in rows.items():
            print(f"| {name} | " + " | ".join(
                f"{r['cells'][k]['f1']:.2f} ({r['cells'][k]['support']})" for k in cells) + " |")
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
