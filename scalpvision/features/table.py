"""Per-image hair features (paper Table 7): number of width samples, mean and median width,
IQR-filtered mean and median, hair count - plus, when ``um_per_px`` is known, density per cm²,
widths in µm and the vellus/terminal share by a width cut-off (TrichoScan-style, 40 µm)."""

from __future__ import annotations

import numpy as np

from scalpvision.features.count import CountParams, count_hairs
from scalpvision.features.thickness import ThicknessParams, measure_thickness
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


def hair_features(mask: np.ndarray, um_per_px: float = 0.0, vellus_um: float = 40.0, *,
                  count: CountParams,
                  thickness: ThicknessParams = ThicknessParams()) -> dict[str, float]:
    """Feature dict for one (H, W) bool hair mask; an empty mask gives zeros, never NaN."""
    # one labelling and one thinning serve thickness and count (each keeps its own components)
    comps = Components.of(mask)
    m = comps.at_least(min(thickness.min_area, count.strands.min_area))
    skel = skeletonize(m, comps)
    w = measure_thickness(m, thickness, skel, comps).widths
    f = iqr_filter(w)
    feats = {
        "length": float(len(w)),
        "iqr_mean": float(f.mean()) if len(f) else 0.0,
        "iqr_median": float(np.median(f)) if len(f) else 0.0,
        "mean": float(w.mean()) if len(w) else 0.0,
        "median": float(np.median(w)) if len(w) else 0.0,
        "hair_count": float(count_hairs(m, count, skel, comps)),
    }
    if um_per_px > 0:
        h, wd = mask.shape
        area_cm2 = h * wd * (um_per_px * 1e-4) ** 2
        wu = w * um_per_px
        feats.update({
            "density_per_cm2": feats["hair_count"] / area_cm2,
            "mean_width_um": float(wu.mean()) if len(wu) else 0.0,
            "median_width_um": float(np.median(wu)) if len(wu) else 0.0,
            "vellus_share": float((wu < vellus_um).mean()) if len(wu) else 0.0,
        })
    return feats
