"""The generality suite: hair count, width and segmenter recall on renderings the pipeline was
not tuned on, each with per-hair truth.

* ``built-in, shifted``: :func:`~scalpvision.data.synthetic.render_scalp` with its
  distributions moved (:data:`SHIFT`: terminal hairs to 15 px, long hairs crossing the frame,
  shallow-angle mates, tapering, strong specular streaks, defocus) and JPEG-compressed;
* ``trichoscope``: the independent renderer (:mod:`scalpvision.data.trichoscope`) as it is;
* ``trichoscope, faint``: the same with thin grey, white and red-brown hairs only.

The suite only reports; settings are chosen on the built-in validation split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from scalpvision.data.synthetic import RenderedScalp, RenderShift, render_scalp
from scalpvision.data.trichoscope import Look, render_trichoscope
from scalpvision.features.accuracy import match_hairs
from scalpvision.features.count import CountParams
from scalpvision.features.table import hair_features, trace

SHIFT = RenderShift(terminal_width=(4.0, 15.0), lying_hairs=(2, 5), bundle_share=0.3,
                    taper_share=0.5, shine=0.8, blur_sigma=1.2)
FAINT = Look(width_range=(1.0, 4.0), hair_colours=("grey", "white", "red_brown"),
             n_hairs=(6, 14))
RENDERINGS = ("built-in, shifted", "trichoscope", "trichoscope, faint")
WIDTH_BANDS = (0.0, 5.0, 8.0, np.inf)  # the image's true per-hair mean width, px
RECALL_WIDTH = (0.0, 3.0, 6.0, np.inf)  # one hair's width, px
RECALL_CONTRAST = (0.0, 40.0, 80.0, np.inf)  # one hair's grey-level contrast to the skin


@dataclass
class Case:
    """One suite image: ``image`` (H, W, 3) uint8 RGB, ``mask`` truth, ``area`` truth,
    ``hair_id`` (H, W) int32 or None, ``hairs`` truth rows (width_px, counted, ...),
    ``distractor`` (H, W) bool flakes/plugs/glare off the hair, or None where not known."""

    rendering: str
    index: int
    image: np.ndarray
    mask: np.ndarray
    area: np.ndarray
    hair_id: np.ndarray | None
    hairs: list[dict]
    distractor: np.ndarray | None = None

    @property
    def count(self) -> int:
        return sum(1 for h in self.hairs if h["counted"])

    @property
    def counted_ids(self) -> list[int]:
        """The ids (in ``hair_id``) of the hairs that count."""
        return [h["hair_id"] for h in self.hairs if h["counted"]]

    @property
    def mean_width(self) -> float:
        w = [h["width_px"] for h in self.hairs if h["counted"]]
        return float(np.mean(w)) if w else 0.0


def builtin_case(rendering: str, index: int, image: np.ndarray, r: RenderedScalp) -> Case:
    """A :class:`Case` of the built-in renderer's ``r`` as seen in ``image`` (its frame, or the
    frame after compression); the whole frame is analysed."""
    hairs = [{**h, "hair_id": i} for i, h in enumerate(r.hairs)]
    return Case(rendering, index, image, r.mask, np.ones_like(r.mask), r.hair_id, hairs)


def render_case(rendering: str, index: int, seed: int = 18) -> Case:
    """Image ``index`` of ``rendering`` (one of :data:`RENDERINGS`), deterministic."""
    rng = np.random.default_rng([seed, RENDERINGS.index(rendering), index])
    if rendering == "built-in, shifted":
        values = {f"value_{k}": int(rng.integers(0, 4)) for k in range(1, 7)}
        r = render_scalp(values, rng, shift=SHIFT)
        q = int(rng.integers(60, 95))
        ok, buf = cv2.imencode(".jpg", r.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        image = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
        return builtin_case(rendering, index, image, r)
    if rendering not in RENDERINGS:
        raise ValueError(f"unknown rendering {rendering!r}; valid: {', '.join(RENDERINGS)}")
    t = render_trichoscope(rng, FAINT if rendering.endswith("faint") else Look())
    return Case(rendering, index, t.image, t.mask, t.area, t.hair_id, t.hairs, t.distractor)


def iter_cases(n: int, renderings=RENDERINGS, seed: int = 18) -> Iterator[Case]:
    for name in renderings:
        for i in range(n):
            yield render_case(name, i, seed)


def hair_recall(case: Case, pred: np.ndarray) -> pd.DataFrame:
    """Per counted hair of ``case``: width, contrast and the share of its own pixels in
    ``pred`` ((H, W) bool). Needs the case's id map and each hair's contrast (the
    independent renderer states it; the built-in one does not)."""
    if case.hair_id is None or not all("contrast" in h for h in case.hairs):
        return pd.DataFrame()
    ids = case.hair_id
    n = max([h["hair_id"] for h in case.hairs], default=-1) + 1
    own = np.bincount(ids[ids >= 0], minlength=n)
    hit = np.bincount(ids[(ids >= 0) & pred], minlength=n)
    rows = [{"rendering": case.rendering, "width_px": h["width_px"],
             "contrast": h["contrast"], "recall": hit[h["hair_id"]] / own[h["hair_id"]]}
            for h in case.hairs if h["counted"] and own[h["hair_id"]] > 0]
    return pd.DataFrame(rows)


def hair_precision(case: Case, pred: np.ndarray, tolerance_px: int = 1) -> dict:
    """Pixel precision of ``pred`` ((H, W) bool) inside the analysed area: the share of its
    pixels within ``tolerance_px`` of a true hair pixel (an edge a pixel wide is not a false
    hair), and the share of the distractor pixels (flakes, plugs, glare; those as near a hair
    excepted) it calls hair (NaN where the rendering does not know them)."""
    p = pred & case.area
    box = np.ones((2 * tolerance_px + 1,) * 2, np.uint8)
    near = cv2.dilate(case.mask.astype(np.uint8), box) > 0
    n = int(p.sum())
    d = None if case.distractor is None else case.distractor & ~near
    fp = float((p & d).sum() / d.sum()) if d is not None and d.any() else np.nan
    return {"rendering": case.rendering, "index": case.index,
            "precision": float((p & near).sum() / n) if n else np.nan, "distractor_fp": fp}


def precision_table(precision: pd.DataFrame) -> pd.DataFrame:
    """Per rendering: mean pixel precision of the segmenter and the mean share of distractor
    (flake, plug, glare) pixels it calls hair."""
    if precision.empty:
        return precision
    return (precision.groupby("rendering")
            .agg(images=("index", "size"), precision=("precision", "mean"),
                 distractor_fp=("distractor_fp", "mean"))
            .reset_index().rename(columns={"distractor_fp": "distractor pixels called hair"}))


def found_mean_width(case: Case, pred: np.ndarray, share: float = 0.5) -> float:
    """The truth's per-hair mean width over the counted hairs at least ``share`` of whose own
    pixels ``pred`` ((H, W) bool) holds: the hairs a mask found. Against it, a mask's mean
    width shows what its measurement adds; against :attr:`Case.mean_width`, also what the
    hairs it missed take away. NaN without an id map or when no hair is found."""
    found = hair_recall(case, pred)
    found = found[found.recall >= share] if len(found) else found
    return float(found.width_px.mean()) if len(found) else float("nan")


def score_case(case: Case, masks: dict[str, np.ndarray], count: CountParams,
               area: np.ndarray | None = None) -> list[dict]:
    """One row per mask source: count, per-hair matching errors
    (:func:`~scalpvision.features.accuracy.match_hairs`) and per-hair / per-length width
    against the truth."""
    rows = []
    for source, m in masks.items():
        made = source != "ground truth"  # a segmenter's mask: measured in the frame, as run
        a = area if made else None
        m = m & a if a is not None else m
        t = trace(m, count, area=a, image=case.image if made else None)
        f = hair_features(m, count=count, area=a, hairs=t)
        match = ({} if case.hair_id is None
                 else match_hairs(t.labels, case.hair_id, case.counted_ids))
        rows.append({"rendering": case.rendering, "index": case.index, "source": source,
                     "true_count": case.count, "count": f["hair_count"],
                     "split": match.get("split", np.nan), "missed": match.get("missed", np.nan),
                     "extra": match.get("extra", np.nan),
                     "true_mean_width": case.mean_width, "hair_mean_width": f["hair_mean_width"],
                     "found_mean_width": found_mean_width(case, m),
                     "sample_mean_width": f["mean"]})
    return rows


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Count relative error (sum |error| / sum truth), count bias, the matching errors per true
    hair (hairs cut in two, missed, strands on no counted hair, and their sum) and per-hair
    width bias, per rendering, source and band of the image's true mean width (and over all
    bands); the width bias also against the hairs the mask found (:func:`found_mean_width`)."""
    d = rows[rows.true_count > 0].copy()
    d["band"] = pd.cut(d.true_mean_width, list(WIDTH_BANDS), right=False).astype(str)
    out = []
    for keys, g in [*d.groupby(["rendering", "source"]),
                    *d.groupby(["rendering", "source", "band"])]:
        err = g["count"] - g.true_count
        wb = g.hair_mean_width - g.true_mean_width
        n = g.true_count.sum()
        out.append({"rendering": keys[0], "source": keys[1],
                    "width band": keys[2] if len(keys) > 2 else "all", "images": len(g),
                    "count rel. error": float(err.abs().sum() / n),
                    "count bias": float(err.mean()),
                    "cut in two": float(g.split.sum(min_count=1) / n),
                    "missed": float(g.missed.sum(min_count=1) / n),
                    "matching errors": float((g.split + g.missed + g.extra).sum(min_count=1) / n),
                    "width bias px": float(wb.mean()), "width MAE px": float(wb.abs().mean()),
                    "width bias, found hairs px":
                        float((g.hair_mean_width - g.found_mean_width).mean())})
    return pd.DataFrame(out).sort_values(["rendering", "source", "width band"])


def recall_table(recall: pd.DataFrame) -> pd.DataFrame:
    """Mean per-hair recall by width band and contrast band, per rendering."""
    if recall.empty:
        return recall
    r = recall.assign(
        width=pd.cut(recall.width_px, list(RECALL_WIDTH), right=False).astype(str),
        contrast=pd.cut(recall.contrast, list(RECALL_CONTRAST), right=False).astype(str))
    return (r.groupby(["rendering", "width", "contrast"]).recall
            .agg(["mean", "count"]).reset_index()
            .rename(columns={"mean": "recall", "count": "hairs"}))


def run_suite(n: int, count: CountParams,
              segment: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
              renderings=RENDERINGS, seed: int = 18
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Score ``n`` images of each rendering on the ground-truth masks and, with ``segment``
    (image -> (mask, analysed area)), on the segmenter's. Returns (per-image rows, per-hair
    recall, per-image precision); the last two are empty without ``segment``."""
    rows, recall, precision = [], [], []
    for case in iter_cases(n, renderings, seed):
        masks, area = {"ground truth": case.mask}, None
        if segment is not None:
            pred, area = segment(case.image)
            masks["segmenter"] = pred
            recall.append(hair_recall(case, pred))
            precision.append(hair_precision(case, pred))
        rows += score_case(case, masks, count, area)
    rec = pd.concat(recall, ignore_index=True) if recall else pd.DataFrame()
    return pd.DataFrame(rows), rec, pd.DataFrame(precision)
