"""Segmentation metrics per image (then averaged by the caller), as the paper reports them.

``dice`` and ``hair_f1`` coincide (both are the F1 of the hair class); ``pixel_f1_macro`` is the
paper's "pixel-F1": sklearn's macro F1 over the hair and background classes (reference §4.4),
which is why it reads much higher than Dice. An empty prediction of an empty truth scores 1.
"""

from __future__ import annotations

import numpy as np


def confusion(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of two (H, W) bool masks."""
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {truth.shape} differ in shape")
    p, t = pred.astype(bool).ravel(), truth.astype(bool).ravel()
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p & ~t))
    fn = int(np.count_nonzero(~p & t))
    return tp, fp, fn, p.size - tp - fp - fn


def _f1(tp: int, fp: int, fn: int) -> float:
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def segmentation_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp, fp, fn, tn = confusion(pred, truth)
    hair = _f1(tp, fp, fn)
    background = _f1(tn, fn, fp)
    return {
        "dice": hair,
        "jaccard": 1.0 if tp + fp + fn == 0 else tp / (tp + fp + fn),
        "hair_f1": hair,
        "pixel_f1_macro": (hair + background) / 2,
        "precision": 1.0 if tp + fp == 0 else tp / (tp + fp),
        "recall": 1.0 if tp + fn == 0 else tp / (tp + fn),
    }
