"""Metrics of the scalp-condition classifier.

The headline is the paper's macro-F1: the unweighted mean of the 12 binary F1 scores of the
(condition, grade) cells of a one-hot [dandruff(4) | sebum(4) | erythema(4)] matrix (Table 2;
reference-method.md §8.5). With the presence gate a condition whose presence probability is
below the gate is graded 0; without it the severity argmax stands. Beside it: per-condition
confusion matrices, quadratic weighted kappa, within-one-grade accuracy, presence AUC, expected
calibration error, and a bootstrap interval over subjects.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix, roc_auc_score

from scalpvision.classification.model import CONDITIONS, GRADES


def grades_from_proba(proba: dict[str, np.ndarray], gate: float | None = None) -> np.ndarray:
    """(N, 3) predicted grades: argmax of each severity head; with ``gate``, a condition whose
    presence probability is below it is graded 0 (the reference's training-time gate)."""
    g = np.stack([proba[c].argmax(1) for c in CONDITIONS], axis=1)
    if gate is not None:
        g = np.where(proba["presence"] < gate, 0, g)
    return g


def cell_f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binary F1 and support of each of the 12 (condition, grade) cells.

    ``y_true, y_pred: (N, 3)`` grades. A cell with neither true nor predicted members scores
    0 (sklearn's ``zero_division=0``, as the reference's ``f1_score`` does). Returns
    ``(f1 (3, 4), support (3, 4))``."""
    f1 = np.zeros((len(CONDITIONS), GRADES))
    support = np.zeros((len(CONDITIONS), GRADES), int)
    for k in range(len(CONDITIONS)):
        for g in range(GRADES):
            t, p = y_true[:, k] == g, y_pred[:, k] == g
            tp = np.sum(t & p)
            denom = t.sum() + p.sum()
            f1[k, g] = 2 * tp / denom if denom else 0.0
            support[k, g] = t.sum()
    return f1, support


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of the 12 cell F1 scores (paper Table 2's last column)."""
    return float(cell_f1(y_true, y_pred)[0].mean())


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: the support-weighted mean |accuracy - confidence| over ``bins`` equal-width bins."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    idx = np.minimum((confidence * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - confidence[sel].mean())
    return float(ece)


def bootstrap_interval(statistic, y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray,
                       n: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of ``statistic(y_true, y_pred)`` resampling whole subjects
    (``groups``) with replacement - images of one subject are not independent."""
    rng = np.random.default_rng(seed)
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == i) for i in range(len(uniq))]
    vals = np.empty(n)
    for b in range(n):
        idx = np.concatenate([members[i] for i in rng.integers(0, len(uniq), len(uniq))])
        vals[b] = statistic(y_true[idx], y_pred[idx])
    a = (1 - level) / 2
    return float(np.quantile(vals, a)), float(np.quantile(vals, 1 - a))


def evaluate(y_true: np.ndarray, proba: dict[str, np.ndarray], groups: np.ndarray, *,
             gate: float = 0.5, n_boot: int = 1000, seed: int = 0) -> dict:
    """Every metric of the classifier on one split.

    ``y_true: (N, 3)`` grades; ``proba``: :func:`~scalpvision.classification.model.predict_proba`
    output; ``groups: (N,)`` subject ids for the bootstrap (``n_boot`` = 0: no interval). The headline ``macro_f1`` is the
    gated one (what the reference selects models by); ``macro_f1_ungated`` is its test script's."""
    y_true = np.asarray(y_true, int)
    gated, ungated = grades_from_proba(proba, gate), grades_from_proba(proba)
    f1, support = cell_f1(y_true, gated)
    out = {"macro_f1": float(f1.mean()), "macro_f1_ungated": macro_f1(y_true, ungated),
           "macro_f1_ci": bootstrap_interval(macro_f1, y_true, gated, groups, n_boot, seed)
           if n_boot else None,
           "macro_f1_ungated_ci": bootstrap_interval(macro_f1, y_true, ungated, groups, n_boot, seed)
           if n_boot else None,
           "images": int(len(y_true)), "subjects": int(len(np.unique(groups))),
           "cells": {f"{c}_{g}": {"f1": float(f1[k, g]), "support": int(support[k, g])}
                     for k, c in enumerate(CONDITIONS) for g in range(GRADES)}}
    for k, c in enumerate(CONDITIONS):
        t, p = y_true[:, k], gated[:, k]
        present = (t > 0).astype(int)
        out[c] = {
            "confusion": confusion_matrix(t, p, labels=list(range(GRADES))).tolist(),
            "qwk": float(cohen_kappa_score(t, p, weights="quadratic", labels=list(range(GRADES))))
            if len(np.unique(np.r_[t, p])) > 1 else float("nan"),
            "within_one": float(np.mean(np.abs(t - p) <= 1)),
            "accuracy": float(np.mean(t == p)),
            "presence_auc": float(roc_auc_score(present, proba["presence"][:, k]))
            if 0 < present.sum() < len(present) else float("nan"),
            "ece": expected_calibration_error(proba[c].max(1), proba[c].argmax(1) == t),
        }
    return out


def majority_proba(train_grades: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The majority-class predictor as probabilities: every image gets each condition's
    train grade frequencies (argmax = the majority grade)."""
    train_grades = np.asarray(train_grades, int)
    out = {"presence": np.tile((train_grades > 0).mean(0), (n, 1))}
    for k, c in enumerate(CONDITIONS):
        freq = np.bincount(train_grades[:, k], minlength=GRADES) / len(train_grades)
        out[c] = np.tile(freq, (n, 1))
    return out
