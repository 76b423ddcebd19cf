"""Alopecia severity (0-3) from hair features (paper §3.2, §4.4): an sklearn Pipeline around
GradientBoostingClassifier (lr 0.01, depth 5, 300 trees - the paper's), exactly the six paper
features, seeded; evaluation (accuracy, weighted F1, per-grade recall, confusion matrix), the
feature ablation of paper Table 7 (features added one at a time, in the paper's order), and a
subject-grouped cross-validation that says how far one small test split can be trusted."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score
from sklearn.pipeline import Pipeline

from scalpvision.alopecia.params import GbmParams
from scalpvision.errors import BadInputError

GRADES = (0, 1, 2, 3)
# the types an MLflow/skops-saved model of this pipeline holds (stack-notes.md)
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree", "sklearn._loss.loss.HalfMultinomialLoss",
                       "sklearn._loss.link.MultinomialLogit", "sklearn._loss.link.Interval",
                       "sklearn.ensemble._gb.GradientBoostingClassifier",
                       "sklearn.dummy.DummyClassifier"]


def build_model(p: GbmParams) -> Pipeline:
    return Pipeline([("gbm", GradientBoostingClassifier(
        learning_rate=p.learning_rate, max_depth=p.max_depth, n_estimators=p.n_estimators,
        subsample=p.subsample, random_state=p.seed))])


def check_features(df: pd.DataFrame, names, where: str) -> pd.DataFrame:
    """The (N, F) float frame of ``names`` (columns in that order); a missing column or a non-finite value is a clear
    error naming the column, never a silent NaN fed to the model."""
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise BadInputError(f"{where}: missing feature column(s) {missing}; have {list(df.columns)}")
    x = df[list(names)].astype(float)
    bad = ~np.isfinite(x.to_numpy())
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise BadInputError(f"{where}: non-finite {names[j]} in row {i} "
                         f"({bad.sum()} non-finite value(s) in all)")
    return x


def evaluate(y_true, y_pred, labels=GRADES) -> dict:
    """Accuracy, weighted F1, per-grade recall (NaN-free: a grade absent from the truth gets
    None) and the confusion matrix (rows: truth, columns: prediction)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rec = recall_score(y_true, y_pred, labels=list(labels), average=None, zero_division=0)
    present = {int(g) for g in np.unique(y_true)}
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "weighted_f1": float(f1_score(y_true, y_pred, labels=list(labels),
                                          average="weighted", zero_division=0)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=sorted(present),
                                       average="macro", zero_division=0)),
            "recall": {int(g): (float(r) if g in present else None) for g, r in zip(labels, rec)},
            "confusion": confusion_matrix(y_true, y_pred, labels=list(labels)).tolist(),
            "n": int(len(y_true))}


def fit_eval(train: pd.DataFrame, test: pd.DataFrame, names, target: str,
             p: GbmParams) -> tuple[Pipeline, dict]:
    x, y = check_features(train, names, "train"), train[target].to_numpy(int)
    model = build_model(p).fit(x, y)
    pred = model.predict(check_features(test, names, "test"))
    return model, evaluate(test[target].to_numpy(int), pred)


def grouped_cv(df: pd.DataFrame, names, target: str, p: GbmParams,
               folds: int = 5, group: str = "group") -> dict:
    """Stratified k-fold over ``df`` with every subject (``group``) in exactly one fold: the
    per-fold accuracy and weighted F1 (mean and sample sd), and :func:`evaluate` of the pooled
    out-of-fold predictions. ``fold_groups``: the subjects of each fold's test part."""
    from sklearn.model_selection import StratifiedGroupKFold

    if group not in df:
        raise BadInputError(f"grouped CV needs a {group!r} column; have {list(df.columns)}")
    y, g = df[target].to_numpy(int), df[group].astype(str).to_numpy()
    n_groups = len(np.unique(g))
    if folds < 2 or n_groups < folds:
        raise BadInputError(f"grouped CV: {folds} folds need 2 <= folds <= subjects ({n_groups})")
    x = check_features(df, names, "cv")
    pred = np.empty_like(y)
    acc, wf1, fold_groups = [], [], []
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=p.seed)
    for tr, te in cv.split(x, y, g):
        pred[te] = build_model(p).fit(x.iloc[tr], y[tr]).predict(x.iloc[te])
        r = evaluate(y[te], pred[te])
        acc.append(r["accuracy"])
        wf1.append(r["weighted_f1"])
        fold_groups.append(sorted(np.unique(g[te]).tolist()))
    return {"folds": folds, "accuracy_mean": float(np.mean(acc)),
            "accuracy_sd": float(np.std(acc, ddof=1)), "weighted_f1_mean": float(np.mean(wf1)),
            "weighted_f1_sd": float(np.std(wf1, ddof=1)), "pooled": evaluate(y, pred),
            "fold_groups": fold_groups}


def ablation(train: pd.DataFrame, test: pd.DataFrame, names, target: str,
             p: GbmParams) -> pd.DataFrame:
    """Paper Table 7: the model with the first k features, k = 1..len(names)."""
    rows = []
    for k in range(1, len(names) + 1):
        _, r = fit_eval(train, test, names[:k], target, p)
        rows.append({"features": " + ".join(names[:k]), "accuracy": r["accuracy"],
                     "weighted_f1": r["weighted_f1"]})
    return pd.DataFrame(rows)


def report_markdown(results: dict[str, dict], title: str) -> str:
    lines = [f"### {title}", "", "| model | accuracy | weighted F1 | macro F1 | recall 0/1/2/3 | n |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        rec = "/".join("–" if r["recall"][g] is None else f"{r['recall'][g]:.2f}" for g in GRADES)
        lines.append(f"| {name} | {r['accuracy']:.4f} | {r['weighted_f1']:.4f} | "
                     f"{r['macro_f1']:.4f} | {rec} | {r['n']} |")
    return "\n".join(lines) + "\n"
