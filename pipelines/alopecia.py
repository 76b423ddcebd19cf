"""Stage `alopecia`: severity 0-3 from the six paper hair features with the paper's gradient
boosting model, on a subject-grouped split; the feature ablation (paper Table 7); baselines on
the same split (Kim et al.'s Otsu-mask thickness; an image-only timm CNN; and, as an upper
bound where the data has them, the same model on ground-truth-mask features). Every model is an
MLflow run; the feature model is saved and registered."""

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from scalpvision.alopecia.cnn import load_images, predict_cnn, train_cnn
from scalpvision.alopecia.kind import save_alopecia_dir
from scalpvision.alopecia.model import (
    ablation, check_features, evaluate, fit_eval, grouped_cv, report_markdown,
)
from scalpvision.alopecia.params import GbmParams
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.errors import BadInputError, MissingInputError
from scalpvision.features.table import SETTINGS_FILE
from scalpvision.ops.promotion import MANIFEST_TAG, manifest_hash
from scalpvision.ops.registry import register
from scalpvision.ops.tracking import content_hash, git_revision, stage_run


def _log_result(mlflow, r: dict, prefix: str = "") -> None:
    mlflow.log_metrics({f"{prefix}accuracy": r["accuracy"], f"{prefix}weighted_f1": r["weighted_f1"],
                        f"{prefix}macro_f1": r["macro_f1"],
                        **{f"{prefix}recall_grade_{g}": v for g, v in r["recall"].items()
                           if v is not None}})


def _cv(mlflow, cvs: dict, key: str, train: pd.DataFrame, names, a, gbm: GbmParams) -> None:
    """Subject-grouped CV of one feature model on the train splits, logged to the active run;
    skipped, and said so in the run's ``cv`` tag, when there are fewer subjects than folds."""
    if a.cv_folds < 2:
        mlflow.set_tag("cv", "off")
        return
    n_subjects = train.group.nunique()
    if n_subjects < a.cv_folds:
        note = f"skipped: {n_subjects} subjects < {a.cv_folds} folds"
        print(f"{key}: grouped CV {note}")
        mlflow.set_tag("cv", note)
        return
    cv = grouped_cv(train, names, a.target, gbm, a.cv_folds)
    mlflow.set_tag("cv", f"{a.cv_folds}-fold, {n_subjects} subjects")
    mlflow.log_metrics({f"cv_{k}": v for k, v in cv.items() if k.endswith(("_mean", "_sd"))})
    mlflow.log_dict(cv, "grouped_cv.json")
    cvs[key] = cv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    a = P.alopecia
    tracking = P.tracking
    torch.set_num_threads(a.threads)
    df = pd.read_csv(a.features)
    if a.target not in df:
        raise BadInputError(f"{a.features}: no target column {a.target!r}")
    train = df[df.split.isin(a.train_splits)].reset_index(drop=True)
    test = df[df.split == a.eval_split].reset_index(drop=True)
    if train.empty or test.empty:
        raise BadInputError(f"{a.features}: empty split (train {a.train_splits}: {len(train)}, "
                         f"{a.eval_split}: {len(test)} rows)")
    leak = set(train.group) & set(test.group)
    if leak:
        raise BadInputError(f"{a.features}: subjects in both train and {a.eval_split}: "
                         f"{sorted(leak)[:5]} - the split must be grouped by subject")
    gbm = a.gbm
    names = list(a.feature_names)
    data_hash = content_hash(Path(a.features))
    sfile = Path(a.features).parent / SETTINGS_FILE
    if not sfile.is_file():
        raise MissingInputError(f"{sfile}: no feature settings beside the feature table "
                                "(run `dvc repro features`)")
    settings = json.loads(sfile.read_text())
    split_tags = {"train_splits": ",".join(a.train_splits), "eval_split": a.eval_split,
                  "data_hash": data_hash, "table": "alopecia"}
    results, cvs, out, rep = {}, {}, Path(a.out_dir), Path(a.report_dir)
    rep.mkdir(parents=True, exist_ok=True)
    with stage_run("alopecia", {"alopecia": as_dict(a)}, tracking, deps=[a.features],
                   tags={**split_tags, "model_kind": "features_gbm"}) as run:
        import mlflow

        model, r = fit_eval(train, test, names, a.target, gbm)
        results["GBM, six paper features (M masks)"] = r
        _log_result(mlflow, r)
        _cv(mlflow, cvs, "GBM, six paper features (M masks)", train, names, a, gbm)
        mlflow.log_dict(r, "evaluation.json")
        save_alopecia_dir(out, model, names, r, {"data_hash": data_hash,
                                                 "mlflow_run_id": run.info.run_id,
                                                 "feature_settings": settings})
        version = register(
            "alopecia", (model, check_features(test, names, "test").head(3), settings),
            a.register_name, {f"test_{k}": r[k] for k in ("accuracy", "weighted_f1", "macro_f1")},
            {**split_tags, "features": ",".join(names), "eval_images": str(len(test)),
             MANIFEST_TAG: manifest_hash(test, ["image_id", a.target]),
             "git.commit": git_revision(Path("."))[0]})
        abl = ablation(train, test, names, a.target, gbm)
        mlflow.log_table(abl, "ablation_table7.json")
        for k, row in abl.iterrows():
            mlflow.log_metrics({"ablation_accuracy": row.accuracy,
                                "ablation_weighted_f1": row.weighted_f1}, step=k + 1)
    with stage_run("alopecia_baseline_kim", {"alopecia": as_dict(a)}, tracking,
                   deps=[a.features], tags={**split_tags, "model_kind": "kim_otsu_thickness"}):
        _, r = fit_eval(train, test, ["otsu_mean_width"], a.target, gbm)
        results["Kim et al.: Otsu-mask mean thickness"] = r
        _log_result(mlflow, r)
        _cv(mlflow, cvs, "Kim et al.: Otsu-mask mean thickness", train, ["otsu_mean_width"], a,
            gbm)
    if "gtmask_hair_count" in df and test["gtmask_hair_count"].notna().all() \
            and train["gtmask_hair_count"].notna().all():
        with stage_run("alopecia_oracle_gt_masks", {"alopecia": as_dict(a)}, tracking,
                       deps=[a.features], tags={**split_tags, "model_kind": "gt_mask_gbm"}):
            gtn = [f"gtmask_{n}" for n in names]
            _, r = fit_eval(train, test, gtn, a.target, gbm)
            results["upper bound: same GBM on ground-truth masks"] = r
            _log_result(mlflow, r)
            _cv(mlflow, cvs, "upper bound: same GBM on ground-truth masks", train, gtn, a, gbm)
    cp = a.cnn
    with stage_run("alopecia_baseline_cnn", {"alopecia": as_dict(a)}, tracking,
                   deps=[a.features], tags={**split_tags, "model_kind": "image_cnn",
                                            "backbone": cp.backbone}):
        xtr, xte = load_images(train.path, cp.image_size), load_images(test.path, cp.image_size)
        cnn, init, hist = train_cnn(xtr, train[a.target].to_numpy(int), cp, gbm.seed,
                                    on_epoch=lambda ep, rec: mlflow.log_metrics(
                                        {"train_loss": rec["loss"]}, step=ep))
        mlflow.set_tag("init", init)
        r = evaluate(test[a.target].to_numpy(int), predict_cnn(cnn, xte))
        results[f"image-only CNN ({cp.backbone}, {'ImageNet' if cp.checkpoint else 'random'} "
                f"init)"] = r
        _log_result(mlflow, r)
    table = report_markdown(results, f"Alopecia severity on the {a.eval_split} split "
                                     f"(train: {'+'.join(a.train_splits)}, {len(train)} images; "
                                     f"test {len(test)})")
    if cvs:
        n_subj = train.group.nunique()
        table += (f"\n### Subject-grouped {a.cv_folds}-fold cross-validation on "
                  f"{'+'.join(a.train_splits)} ({len(train)} images, {n_subj} subjects)\n\n"
                  "| model | accuracy (mean ± sd over folds) | weighted F1 (mean ± sd) | "
                  "pooled accuracy | pooled weighted F1 |\n|---|---|---|---|---|\n")
        for name, cv in cvs.items():
            table += (f"| {name} | {cv['accuracy_mean']:.3f} ± {cv['accuracy_sd']:.3f} | "
                      f"{cv['weighted_f1_mean']:.3f} ± {cv['weighted_f1_sd']:.3f} | "
                      f"{cv['pooled']['accuracy']:.3f} | {cv['pooled']['weighted_f1']:.3f} |\n")
    table += "\n### Feature ablation (paper Table 7)\n\n" + abl.to_markdown(index=False,
                                                                             floatfmt=".4f") + "\n"
    (rep / "table.md").write_text(table)
    (rep / "results.json").write_text(json.dumps({**results, **{f"{k} / grouped CV": v
                                                                for k, v in cvs.items()}},
                                                 indent=1))
    first = results["GBM, six paper features (M masks)"]
    cnn_key = next(k for k in results if k.startswith("image-only"))
    metrics = {"accuracy": round(first["accuracy"], 4), "weighted_f1": round(first["weighted_f1"], 4),
               "cnn_accuracy": round(results[cnn_key]["accuracy"], 4),
               "cnn_weighted_f1": round(results[cnn_key]["weighted_f1"], 4),
               "kim_weighted_f1": round(results["Kim et al.: Otsu-mask mean thickness"]
                                        ["weighted_f1"], 4),
               **{f"cv_{tag}weighted_f1": round(cvs[k]["weighted_f1_mean"], 4)
                  for tag, k in (("", "GBM, six paper features (M masks)"),
                                 ("kim_", "Kim et al.: Otsu-mask mean thickness"),
                                 ("gt_", "upper bound: same GBM on ground-truth masks"))
                  if k in cvs},
               "train_images": len(train), "test_images": len(test),
               "registered_version": version, "cnn_seconds": round(sum(h["seconds"] for h in hist), 1)}
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/alopecia.json").write_text(json.dumps(metrics, indent=1))
    print(table)


if __name__ == "__main__":
    run_main(main)
