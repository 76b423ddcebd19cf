"""Segmentation evaluation: baselines and M̂ / M_AP / M per image, then averaged; the prompt
ablation of paper Table 5; a markdown table. Pure functions over arrays and score dicts."""

from __future__ import annotations

from collections import defaultdict
import numpy as np

from scalpvision.segmentation.baselines import BASELINES
from scalpvision.segmentation.metrics import segmentation_scores
from scalpvision.segmentation.params import PromptParams
from scalpvision.segmentation.prompts import Prompts, make_prompts, random_positive_points
from scalpvision.segmentation.segmenter import HairSegmenter

METRICS = ("dice", "jaccard", "hair_f1", "pixel_f1_macro")


def score_image(seg: HairSegmenter, image: np.ndarray, truth: np.ndarray | None,
                ablation: bool = False) -> tuple[dict[str, dict], object]:
    """Scores of every method on one image (empty when ``truth`` is None) and the result."""
    res = seg(image)
    preds = {"u2net (M̂)": res.coarse, f"{seg.refiner.name} (M_AP)": res.refined}
    if res.strokes is not None:
        preds["line strokes (S)"] = res.strokes
    if seg.boundary.active or res.strokes is not None:
        preds["M̂ AND M_AP (before the strokes and the boundary step)"] = res.ensembled
    preds["ensemble (M)"] = res.final
    preds.update({f"baseline: {k}": f(image) for k, f in BASELINES.items()})
    if getattr(seg.refiner, "name", "") == "sam":  # unguided SAM needs the SAM weights
        from scalpvision.segmentation.refiners import unguided_sam_mask
        preds["baseline: sam_unguided"] = unguided_sam_mask(seg.refiner.sam, image)
    if ablation:
        preds.update(prompt_ablation(seg, image, res))
    if truth is None:
        return {}, res
    return {k: segmentation_scores(v, truth) for k, v in preds.items()}, res


def prompt_ablation(seg: HairSegmenter, image: np.ndarray, res) -> dict[str, np.ndarray]:
    """Paper Table 5: positives from M̂ vs random; negatives from the inverse mask vs none.
    Each variant is refined and ensembled like the full method."""
    pp: PromptParams = seg.prompt_params
    ours = res.prompts
    n_pos = max(len(ours.positive_xy), 1)
    rand_pos = random_positive_points(image.shape[:2], n_pos, pp.seed)
    variants = {
        "ablation: pos M̂ + neg inverse": ours,
        "ablation: pos M̂, no neg": Prompts(ours.positive_xy, ours.negative_xy[:0], ours.boxes_xyxy),
        "ablation: pos random + neg inverse": Prompts(rand_pos, ours.negative_xy, ours.boxes_xyxy[:0]),
        "ablation: pos random, no neg": Prompts(rand_pos, ours.negative_xy[:0], ours.boxes_xyxy[:0]),
    }
    out = {}
    for name, pr in variants.items():
        refined = res.refined if pr is ours else seg.refiner.refine(image, pr, res.coarse)
        out[name] = seg.combine(image, res.gate, refined, res.strokes)[1]
    return out


def average(per_image: list[dict[str, dict]]) -> dict[str, dict[str, float]]:
    acc: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for scores in per_image:
        for method, s in scores.items():
            for m in METRICS:
                acc[method][m].append(s[m])
    return {k: {m: float(np.mean(v[m])) for m in METRICS} | {"n": len(v["dice"])}
            for k, v in acc.items()}


def markdown_table(avg: dict[str, dict[str, float]], title: str) -> str:
    lines = [f"### {title}", "",
             "| method | Dice | Jaccard | hair F1 | pixel-F1 (macro hair+bg) | images |",
             "|---|---|---|---|---|---|"]
    for k, v in avg.items():
        lines.append(f"| {k} | {v['dice']:.4f} | {v['jaccard']:.4f} | {v['hair_f1']:.4f} | "
                     f"{v['pixel_f1_macro']:.4f} | {v['n']} |")
    return "\n".join(lines) + "\n"


__all__ = ["score_image", "prompt_ablation", "average", "markdown_table", "make_prompts"]


def evaluation_rows(e):
    """The labelled rows seg_eval scores (``e``: ``EvalParams``): the split's images with a
    ground-truth mask, the first ``max_images`` when set. Promotion hashes and re-scores the
    same rows, so both must come from here."""
    import pandas as pd

    man = pd.read_csv(e.manifest)
    rows = man[(man.split == e.split) & man["mask_path"].notna()]
    return rows.head(e.max_images) if e.max_images else rows
