"""Per-image hair features (paper Table 7): number of width samples, mean and median width,
IQR-filtered mean and median, hair count - plus the per-hair mean and median width, the
analysed share of the frame, and, when ``um_per_px`` is known, density per cm² of analysed
area, widths in µm and the vellus/terminal share by a width cut-off (TrichoScan-style, 40 µm).

Width samples are single-hair samples (:mod:`scalpvision.features.strands`): ``mean`` /
``median`` are per unit length (the samples are spaced along the hairs), ``hair_mean_width`` /
``hair_median_width`` per hair (each hair's width once)."""

from __future__ import annotations

import numpy as np

from scalpvision.features.count import CountParams, count_hairs
from scalpvision.features.strands import HairTrace, trace_hairs
from scalpvision.features.thickness import ThicknessParams
from scalpvision.morphology import Components, skeletonize

PAPER_FEATURES = ("length", "iqr_mean", "iqr_median", "mean", "median", "hair_count")
SETTINGS_FILE = "feature_settings.json"  # beside the features table; carried by the model


def feature_settings(p) -> dict:
    """The settings that change what a feature table holds (from the ``features`` params): a
    model trained on the table is registered with them and served with the same ones."""
    from dataclasses import asdict

    return {"count": asdict(p.count)}


def count_params_from(settings: dict | None, where: str = "feature settings") -> CountParams:
    """The :class:`CountParams` of :func:`feature_settings`' dict."""
    from scalpvision.config import ConfigError, from_dict

    if not settings or "count" not in settings:
        raise ConfigError(f"{where}: no recorded feature settings (a model must carry the "
                          "count settings its feature table was measured with)")
    return from_dict(CountParams, settings["count"], f"{where}:feature_settings.count")


def iqr_filter(widths: np.ndarray) -> np.ndarray:
    """Widths within [Q1 - 1.5 IQR, Q3 + 1.5 IQR] (numpy's linear quantiles, as reference §7)."""
    if len(widths) == 0:
        return widths
    q1, q3 = np.quantile(widths, [0.25, 0.75])
    iqr = q3 - q1
    return widths[(widths >= q1 - 1.5 * iqr) & (widths <= q3 + 1.5 * iqr)]


def per_hair_table(trace: HairTrace, um_per_px: float = 0.0, vellus_um: float = 40.0
                   ) -> list[dict]:
    """One row per counted hair: strand, length_px, width_px, samples, angle_deg, x, y, and
    with a calibration length_um, width_um and class (vellus | terminal by ``vellus_um``)."""
    rows = []
    for h in trace.hairs:
        row = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in h.items()}
        if um_per_px > 0:
            wu = h["width_px"] * um_per_px
            row.update(length_um=round(h["length_px"] * um_per_px, 1),
                       width_um=round(wu, 2) if np.isfinite(wu) else float("nan"),
                       **{"class": "vellus" if wu < vellus_um else "terminal"})
        rows.append(row)
    return rows


def trace(mask: np.ndarray, count: CountParams,
          thickness: ThicknessParams = ThicknessParams(),
          area: np.ndarray | None = None, image: np.ndarray | None = None) -> HairTrace:
    """The strands of one (H, W) bool mask (one labelling and one thinning); ``area``: the
    analysed area, where the mask was cut to it (gaps under graphics are bridged); ``image``:
    the (H, W, 3) uint8 RGB frame, for widths at the hair's edges in it."""
    comps = Components.of(mask)
    m = comps.at_least(min(thickness.min_area, count.strands.min_area))
    return trace_hairs(m, count.strands, thickness, skeletonize(m, comps), comps, area, image)


def hair_features(mask: np.ndarray, um_per_px: float = 0.0, vellus_um: float = 40.0, *,
                  count: CountParams, area: np.ndarray | None = None,
                  thickness: ThicknessParams = ThicknessParams(),
                  hairs: HairTrace | None = None,
                  image: np.ndarray | None = None) -> dict[str, float]:
    """Feature dict for one (H, W) bool hair mask; an empty mask gives zeros, never NaN.
    ``area``: the analysed area ((H, W) bool, :func:`~scalpvision.segmentation.area.
    analysed_area`); hair outside it is ignored and densities are per analysed area.
    ``hairs``: the mask's :func:`trace`, when the caller has it. ``image``: the (H, W, 3) uint8
    RGB frame the mask is of (see :func:`trace`)."""
    if area is not None:
        mask = mask & area
    t = hairs if hairs is not None else trace(mask, count, thickness, area, image)
    w = t.sample_widths
    f = iqr_filter(w)
    per_hair = np.array([h["width_px"] for h in t.hairs], float)
    per_hair = per_hair[np.isfinite(per_hair)]
    n = float(t.count if count.method == "strands" else count_hairs(mask, count))
    feats = {
        "length": float(len(w)),
        "iqr_mean": float(f.mean()) if len(f) else 0.0,
        "iqr_median": float(np.median(f)) if len(f) else 0.0,
        "mean": float(w.mean()) if len(w) else 0.0,
        "median": float(np.median(w)) if len(w) else 0.0,
        "hair_count": n,
        "hair_mean_width": float(per_hair.mean()) if len(per_hair) else 0.0,
        "hair_median_width": float(np.median(per_hair)) if len(per_hair) else 0.0,
        "analysed_share": float(area.mean()) if area is not None else 1.0,
    }
    if um_per_px > 0:
        area_cm2 = max(feats["analysed_share"] * mask.size, 1) * (um_per_px * 1e-4) ** 2
        wu = per_hair * um_per_px
        feats.update({
            "density_per_cm2": feats["hair_count"] / area_cm2,
            "mean_width_um": float(wu.mean()) if len(wu) else 0.0,
            "median_width_um": float(np.median(wu)) if len(wu) else 0.0,
            "vellus_share": float((wu < vellus_um).mean()) if len(wu) else 0.0,
        })
    return feats
