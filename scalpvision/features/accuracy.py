"""Feature accuracy against ground truth: the width-vs-truth grid (drawn hairs of known width
at every angle and sub-pixel offset) and per-image count/width errors on images whose true hair
count and widths are known (the built-in data set)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalpvision.features.thickness import ThicknessParams, measure_thickness


def drawn_hair(width: float, angle_deg: float, offset: float = 0.37,
               shape: tuple[int, int] = (480, 640), half_len: float = 200.0) -> np.ndarray:
    """A straight hair of known ``width`` (px) and direction as a (H, W) bool mask: every
    pixel whose centre lies within width/2 of the centre line (the rule the built-in renderer's
    masks follow, so the grid measures the same thing as its truth)."""
    t = np.radians(angle_deg)
    d = np.array([np.cos(t), np.sin(t)], np.float32)
    c = np.array([shape[1] / 2 + offset, shape[0] / 2 + offset * 0.61], np.float32)
    a, b = c - half_len * d, c + half_len * d
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    ab = b - a
    tt = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / max(float(ab @ ab), 1e-12), 0, 1)
    dx, dy = xs - a[0] - tt * ab[0], ys - a[1] - tt * ab[1]
    return np.sqrt(dx * dx + dy * dy) <= width / 2


def width_grid(widths, n_angles: int = 12, offsets=(0.13, 0.37, 0.71),
               p: ThicknessParams = ThicknessParams()) -> pd.DataFrame:
    """One row per (true width, angle): the median measured width over the sub-pixel offsets'
    samples and its error. Angles are spread evenly over [0, 180)."""
    rows = []
    for w in widths:
        for a in np.arange(n_angles) * 180.0 / n_angles:
            meas = [np.median(r.widths) for o in offsets
                    if len((r := measure_thickness(drawn_hair(w, a, o), p)).widths)]
            med = float(np.mean(meas)) if meas else float("nan")
            rows.append({"true_width_px": float(w), "angle_deg": float(a), "measured_px": med,
                         "error_px": med - w, "samples": len(meas)})
    return pd.DataFrame(rows)


def grid_summary(grid: pd.DataFrame) -> pd.DataFrame:
    """Mean and worst absolute error per true width (rows) (reports/features/accuracy.md)."""
    g = grid.assign(abs_error=grid.error_px.abs())
    return g.groupby("true_width_px").agg(mean_error_px=("error_px", "mean"),
                                          worst_abs_error_px=("abs_error", "max"),
                                          angles=("angle_deg", "count")).reset_index()


def image_errors(df: pd.DataFrame, prefix: str) -> dict[str, float]:
    """Count MAE / relative error and mean-width error of features ``{prefix}hair_count`` and
    ``{prefix}hair_mean_width`` (per hair) against ``gt_hair_count`` / ``gt_mean_width_px``
    (the mean of the drawn hairs' widths, also per hair; rows with truth only)."""
    d = df.dropna(subset=["gt_hair_count", f"{prefix}hair_count"])
    if d.empty:
        return {}
    cnt_err = d[f"{prefix}hair_count"] - d.gt_hair_count
    w_err = d[f"{prefix}hair_mean_width"] - d.gt_mean_width_px
    return {"images": int(len(d)),
            "count_mae": float(cnt_err.abs().mean()),
            "count_rel_error": float(cnt_err.abs().sum() / max(d.gt_hair_count.sum(), 1)),
            "count_bias": float(cnt_err.mean()),
            "width_mae_px": float(w_err.abs().mean()),
            "width_bias_px": float(w_err.mean())}


def errors_by_width(df: pd.DataFrame, prefix: str, edges=(0, 5, 7, 9, np.inf)) -> pd.DataFrame:
    """:func:`image_errors` per band of the image's true mean hair width."""
    d = df.dropna(subset=["gt_hair_count", f"{prefix}hair_count"])
    band = pd.cut(d.gt_mean_width_px, list(edges), right=False)
    rows = []
    for b, part in d.groupby(band, observed=True):
        rows.append({"true_mean_width_px": str(b), **image_errors(part, prefix)})
    return pd.DataFrame(rows)


def match_hairs(labels: np.ndarray, hair_id: np.ndarray, counted) -> dict[str, int]:
    """Per-hair matching of traced strands to the truth, which a count error hides (a hair cut
    in two and two hairs traced as one cancel in it). ``labels``: (H, W) int32 strand of each
    traced skeleton pixel, -1 none (:attr:`~scalpvision.features.strands.HairTrace.labels`);
    ``hair_id``: (H, W) int32 true top hair of each pixel, -1 none; ``counted``: the true hairs
    that count. Each strand belongs to the hair most of its pixels lie on. Returns ``true``,
    ``count``, ``split`` (strands beyond the first of a hair), ``missed`` (counted hairs with no
    strand), ``extra`` (strands on no counted hair: off the hair, or on a hair that does not
    count), ``merged`` (strands a fifth or more of whose pixels lie on each of two counted
    hairs) and ``matching_errors`` = split + missed + extra."""
    counted = {int(c) for c in counted}
    on = labels >= 0
    s, h = labels[on], hair_id[on]
    n = int(labels.max()) + 1 if on.any() else 0
    per_hair, merged, extra = {}, 0, 0
    for k in range(n):
        ids, px = np.unique(h[s == k], return_counts=True)
        if len(ids) == 0:
            extra += 1  # a label with no pixels matches no hair (trace gives none such)
            continue
        top = int(ids[np.argmax(px)])
        big = {int(i) for i in ids[px >= 0.2 * px.sum()]} & counted
        merged += len(big) >= 2
        if top in counted:
            per_hair[top] = per_hair.get(top, 0) + 1
        else:
            extra += 1
    split = sum(v - 1 for v in per_hair.values())
    missed = len(counted - set(per_hair))
    return {"true": len(counted), "count": n, "split": split, "missed": missed, "extra": extra,
            "merged": merged, "matching_errors": split + missed + extra}
