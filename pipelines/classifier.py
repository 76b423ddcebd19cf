"""Stage `classifier`: the scalp-condition classifier (paper §3.3) - the four-head timm CNN of
the chosen training-set variant, the classical colour/texture baseline and the majority-class
predictor, all scored on the real (non-augmented) test split in the paper's Table 2 layout with
95 % intervals by bootstrap over test subjects; the presence heads scored against the real CC BY
frames. Every model is an MLflow run (tag ``table=classifier``); the CNN is saved, registered
(kind ``classifier``) and left to `promote`."""

import argparse
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from scalpvision.classification.baseline import ConditionGbm, feature_table
from scalpvision.classification.data import Normalisation, join_augmented, load_squares
from scalpvision.classification.metrics import evaluate, majority_proba
from scalpvision.classification.model import CONDITIONS, predict_proba
from scalpvision.classification.predictor import load_classifier_dir, save_classifier_dir
from scalpvision.classification.real_frames import score_real_frames
from scalpvision.classification.report import (
    cell_rows, cells_markdown, confusion_figure, summary_markdown,
)
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.errors import BadInputError
from scalpvision.ops import distributed
from scalpvision.ops.promotion import MANIFEST_TAG, manifest_hash
from scalpvision.ops.registry import register
from scalpvision.ops.tracking import git_revision, stage_run


def _log_eval(mlflow, r: dict, prefix: str) -> None:
    m = {f"{prefix}macro_f1": r["macro_f1"], f"{prefix}macro_f1_ungated": r["macro_f1_ungated"]}
    for key in ("macro_f1_ci", "macro_f1_ungated_ci"):
        if r.get(key):
            base = key[:-3]
            m[f"{prefix}{base}_lo"], m[f"{prefix}{base}_hi"] = r[key]
    for c in CONDITIONS:
        for k in ("qwk", "within_one", "accuracy", "presence_auc", "ece"):
            if np.isfinite(r[c][k]):
                m[f"{prefix}{c}_{k}"] = r[c][k]
    m.update({f"{prefix}f1_{cell}": v["f1"] for cell, v in r["cells"].items()})
    mlflow.log_metrics(m)


def _log_model_run(mlflow, r: dict, name: str, rep: Path, slug: str) -> None:
    _log_eval(mlflow, r, "test_")
    mlflow.log_dict(r, "evaluation.json")
    mlflow.log_table(pd.DataFrame(cell_rows(r)), "table2_cells.json")
    fig = confusion_figure(r, f"{name}: test confusion", rep / f"confusion_{slug}.png")
    mlflow.log_artifact(str(fig), artifact_path="plots")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    c = P.classifier
    tracking = P.tracking
    replica = distributed.start(P.execution.train_processes)  # torchrun -> DDP (gloo on CPU)
    torch.set_num_threads(replica.threads(c.threads))
    man = pd.read_csv(c.manifest)
    tr_name, va_name, te_name = c.splits
    parts = {s: man[man.split == s].reset_index(drop=True) for s in c.splits}
    for s, d in parts.items():
        if d.empty:
            raise BadInputError(f"{c.manifest}: split {s!r} is empty")
    leak = set(parts[tr_name].group) & (set(parts[va_name].group) | set(parts[te_name].group))
    if leak:
        raise BadInputError(f"{c.manifest}: subjects in train and val/test: {sorted(leak)[:5]}")
    train = parts[tr_name]
    t = c.train
    if t.variant == "manifest":
        extra = join_augmented(man, pd.read_csv(t.augmented_manifest), t.augmented_manifest)
        train = pd.concat([train.assign(augmented=False), extra], ignore_index=True)
    size = c.model.image_size
    sq = {s: load_squares(tqdm(d.path, desc=f"load {s}", unit="img"), size)
          for s, d in parts.items()}
    if t.variant == "manifest":
        ex = load_squares(extra.path, size)
        sq_train = (np.concatenate([sq[tr_name][0], ex[0]]), np.concatenate([sq[tr_name][1], ex[1]]))
    else:
        sq_train = sq[tr_name]
    y = {s: d[list(CONDITIONS)].to_numpy(int) for s, d in parts.items()}
    g = {s: d.group.to_numpy() for s, d in parts.items()}
    y_train = train[list(CONDITIONS)].to_numpy(int)
    # one normalisation, measured on the real train images only
    norm = Normalisation.measure(*sq[tr_name])
    rep, out = Path(c.report_dir), Path(c.out_dir)
    rep.mkdir(parents=True, exist_ok=True)
    eval_rows = pd.concat([parts[va_name], parts[te_name]])
    tags = {"table": "classifier", "variant": t.variant, "backbone": c.model.backbone,
            "train_images": str(len(train)), "test_images": str(len(parts[te_name])),
            MANIFEST_TAG: manifest_hash(eval_rows, ["image_id", "split", *CONDITIONS])}
    results, metrics = {}, {}
    cnn_name = f"four-head CNN ({c.model.backbone}, {t.variant})"
    from scalpvision.classification.train import train_classifier

    val = (*sq[va_name], y[va_name], g[va_name])
    fit = functools.partial(train_classifier, *sq_train, y_train, val, c.model, t, norm=norm,
                            gate=c.presence_gate, replica=replica)
    if not replica.main:  # a DDP worker: its share of the gradients; rank 0 validates, writes
        fit(progress=False)
        return distributed.stop(replica)
    with stage_run("classifier", {"classifier": as_dict(c)}, tracking, deps=[c.manifest],
                   tags={**tags, "model_kind": "four_head_cnn",
                         "ddp_processes": str(replica.world)}) as run:
        import mlflow

        mlflow.log_dict({"train_class_counts": {
            f"{cond}_{gr}": int(np.sum(y_train[:, k] == gr))
            for k, cond in enumerate(CONDITIONS) for gr in range(4)}}, "class_counts.json")
        model, rec = fit(
            on_epoch=lambda ep, h: mlflow.log_metrics(
                {k: h[k] for k in ("loss", "lr", "val_macro_f1", "val_macro_f1_ungated",
                                   "images_per_second")}, step=ep + 1))
        mlflow.set_tags({"init": rec["init"], "best_epoch": str(rec["best_epoch"])})
        save_classifier_dir(out, model, c.model, norm, c.presence_gate,
                            {**rec, "mlflow_run_id": run.info.run_id})
        pred = load_classifier_dir(out)  # score what was saved, as it will be served
        r_val = evaluate(y[va_name], predict_proba(pred.model, norm.apply(*sq[va_name])),
                         g[va_name], gate=c.presence_gate, n_boot=0)
        r = evaluate(y[te_name], predict_proba(pred.model, norm.apply(*sq[te_name])), g[te_name],
                     gate=c.presence_gate, n_boot=c.bootstrap)
        results[cnn_name] = r
        mlflow.log_metric("val_macro_f1", r_val["macro_f1"])
        _log_model_run(mlflow, r, cnn_name, rep, "cnn")
        real = score_real_frames(pred.predict, Path(c.real_frames_dir)) \
            if c.real_frames_dir else {}
        if real:
            mlflow.log_metrics({f"real_presence_auc_{k}": real[k] for k in CONDITIONS
                                if np.isfinite(real[k])})
            mlflow.log_dict(real, "real_frames_presence.json")
        version = register("classifier", out, c.register_name,
                           {"val_macro_f1": r_val["macro_f1"], "test_macro_f1": r["macro_f1"]},
                           {**tags, "git.commit": git_revision(Path("."))[0]})
        metrics.update(val_macro_f1=round(r_val["macro_f1"], 4),
                       test_macro_f1=round(r["macro_f1"], 4),
                       test_macro_f1_ci=[round(v, 4) for v in r["macro_f1_ci"]],
                       registered_version=version, best_epoch=rec["best_epoch"],
                       train_seconds=round(sum(h["seconds"] for h in rec["history"]), 1),
                       train_images_per_second=round(float(np.mean(
                           [h["images_per_second"] for h in rec["history"]])), 1),
                       **{f"real_presence_auc_{k}": round(real[k], 3) for k in CONDITIONS
                          if real and np.isfinite(real[k])})
    with stage_run("classifier_baseline_gbm", {"classifier": as_dict(c)}, tracking,
                   deps=[c.manifest], tags={**tags, "model_kind": "colour_texture_gbm"}):
        feats = {s: feature_table(list(d.path), progress=lambda it, s=s: tqdm(
            it, desc=f"baseline features {s}", unit="img")) for s, d in parts.items()}
        gbm = ConditionGbm(n_estimators=c.baseline_estimators, seed=t.seed)
        gbm.fit(feats[tr_name], y[tr_name])  # real train images only: its features need no augmentation
        r = evaluate(y[te_name], gbm.predict_proba(feats[te_name]), g[te_name],
                     gate=c.presence_gate, n_boot=c.bootstrap)
        mlflow.log_metric("val_macro_f1", evaluate(
            y[va_name], gbm.predict_proba(feats[va_name]), g[va_name], gate=c.presence_gate,
            n_boot=0)["macro_f1"])
        results["classical colour/texture GBM"] = r
        _log_model_run(mlflow, r, "classical GBM", rep, "gbm")
        metrics.update(gbm_test_macro_f1=round(r["macro_f1"], 4),
                       gbm_test_macro_f1_ci=[round(v, 4) for v in r["macro_f1_ci"]])
    with stage_run("classifier_majority", {"classifier": as_dict(c)}, tracking,
                   deps=[c.manifest], tags={**tags, "model_kind": "majority_class"}):
        r = evaluate(y[te_name], majority_proba(y[tr_name], len(parts[te_name])), g[te_name],
                     gate=c.presence_gate, n_boot=c.bootstrap)
        results["majority class"] = r
        _log_model_run(mlflow, r, "majority class", rep, "majority")
        metrics.update(majority_test_macro_f1=round(r["macro_f1"], 4),
                       majority_test_macro_f1_ci=[round(v, 4) for v in r["macro_f1_ci"]])
    r0 = results[cnn_name]
    head = (f"### Scalp conditions on the {te_name} split\n\n{r0['images']} real test images of "
            f"{r0['subjects']} subjects; train {len(train)} images ({t.variant}); "
            f"{c.model.backbone} from {rec['init']} weights at {size} px, {t.epochs} epochs "
            f"(best by validation macro-F1: epoch {rec['best_epoch']}), imbalance "
            f"{t.imbalance}. Macro-F1 over the 12 condition x grade cells with its 95 % interval "
            f"(bootstrap over test subjects, {c.bootstrap} resamples); headline = gated "
            f"(presence < {c.presence_gate} grades 0).\n\n")
    text = (head + summary_markdown(results) + "\n### Per cell (paper Table 2 layout): F1 "
            "(support)\n\n" + cells_markdown(results))
    if real:
        text += (f"\n### Presence heads on the real CC BY frames\n\n{real['scenes']} scenes "
                 f"({real['frames']} frames); boxes mapped d/ds -> dandruff, o -> sebum, "
                 "s -> erythema (approximate): AUC " + ", ".join(
                     f"{k} {real[k]:.3f} ({real[k + '_positive_scenes']} positive scenes)"
                     for k in CONDITIONS) + ".\n")
    text += ("\nConfusion matrices: `confusion_*.png` beside this file and under each run's "
             "`plots/` in MLflow.\n")
    (rep / "table.md").write_text(text)
    (rep / "results.json").write_text(json.dumps(results, indent=1))
    with stage_run("classifier_comparison", {"classifier": as_dict(c)}, tracking,
                   deps=[c.manifest], tags={**tags, "table": "classifier_comparison"}):
        mlflow.log_artifacts(str(rep), artifact_path="table2")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/classifier.json").write_text(json.dumps(
        {**metrics, "test_images": r0["images"], "test_subjects": r0["subjects"],
         "train_images": len(train)}, indent=1))
    print(text)
    distributed.stop(replica)


if __name__ == "__main__":
    run_main(main)
