"""Automatic point prompts from a coarse hair mask: Algorithm 1 of the paper (§3.1).

positives = the mean skeleton point of each b x b box kept by NMS over the skeleton of the
binarised mask; negatives = points sampled from the *eroded inverse* of the mask. This is the
paper's formulation (Table 5). The reference code instead labels hair points as background and
samples "scalp" points uniformly over the frame (reference-method.md §4.2) - we don't.

References: Kim et al., ScalpVision, arXiv 2406.17254, Algorithm 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scalpvision.morphology import (
    binarize, box_nms_points, remove_small_components, skeletonize,
)
from scalpvision.segmentation.params import PromptParams


@dataclass
class Prompts:
    """``positive_xy`` (P, 2) float32, ``negative_xy`` (N, 2) float32, ``boxes_xyxy`` (P, 4)."""

    positive_xy: np.ndarray
    negative_xy: np.ndarray
    boxes_xyxy: np.ndarray

    def as_sam(self) -> tuple[np.ndarray, np.ndarray]:
        """Point coordinates and labels (1 = hair, 0 = background) for SAM's predictor."""
        xy = np.concatenate([self.positive_xy, self.negative_xy]).astype(np.float32)
        lab = np.r_[np.ones(len(self.positive_xy)), np.zeros(len(self.negative_xy))]
        return xy, lab.astype(np.int32)


def positive_points(mask: np.ndarray, p: PromptParams) -> tuple[np.ndarray, np.ndarray]:
    """Mean skeleton point per NMS-kept box. ``mask``: (H, W) bool. Returns (xy, boxes_xyxy)."""
    skel = remove_small_components(skeletonize(mask), p.min_skeleton_area)
    if p.min_elongation > 0 and skel.any():
        skel &= elongated_components(mask, skel, p.min_elongation)
    ys, xs = np.nonzero(skel)
    if len(xs) == 0:
        return np.zeros((0, 2), np.float32), np.zeros((0, 4), np.float32)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    keep = box_nms_points(pts, p.box, p.nms_overlap)
    centres = pts[keep]
    half = p.box / 2
    # mean of the skeleton pixels inside each kept box [x0, x1) x [y0, y1): candidates from a
    # k-d tree over the skeleton points (a Chebyshev radius covering the box), then exact bounds
    h, w = skel.shape
    x0 = np.clip(np.floor(centres[:, 0] - half), 0, w).astype(int)
    y0 = np.clip(np.floor(centres[:, 1] - half), 0, h).astype(int)
    x1 = np.clip(x0 + p.box, 0, w)
    y1 = np.clip(y0 + p.box, 0, h)
    from scipy.spatial import cKDTree

    near = cKDTree(pts).query_ball_point(centres, r=p.box + 1, p=np.inf)  # boxes clipped
    # at the border shift inwards, so the box can reach p.box px from its centre
    owner = np.repeat(np.arange(len(centres)), [len(v) for v in near])
    idx = np.fromiter((j for v in near for j in v), int, len(owner))
    px, py = pts[idx, 0], pts[idx, 1]
    inside = (px >= x0[owner]) & (px < x1[owner]) & (py >= y0[owner]) & (py < y1[owner])
    o = owner[inside]
    n = np.bincount(o, minlength=len(centres)).astype(np.float64)
    mean_xy = np.stack([np.bincount(o, px[inside], len(centres)) / np.maximum(n, 1),
                        np.bincount(o, py[inside], len(centres)) / np.maximum(n, 1)], 1)
    mean_xy = np.where(n[:, None] > 0, mean_xy, centres)
    boxes = np.stack([x0, y0, x1, y1], 1).astype(np.float32)
    if p.max_positive and len(mean_xy) > p.max_positive:
        idx = np.random.default_rng(p.seed).choice(len(mean_xy), p.max_positive, replace=False)
        mean_xy, boxes = mean_xy[np.sort(idx)], boxes[np.sort(idx)]
    return mean_xy.astype(np.float32), boxes


def elongated_components(mask: np.ndarray, skel: np.ndarray, min_elongation: float,
                         min_length: float = 0) -> np.ndarray:
    """(H, W) bool: pixels of the mask components whose skeleton length L and area A satisfy
    L^2 / A >= ``min_elongation`` (a hair of width w has L^2/A = L/w; a round flake about 1)
    and L >= ``min_length`` (px).

    Not in the paper: it keeps Algorithm 1 from putting positive prompts on blob-shaped false
    positives of M̂ (flakes, sheen spots), which the refiner would otherwise keep."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    area = np.bincount(labels.ravel(), minlength=n).astype(float)
    length = np.bincount(labels[skel], minlength=n).astype(float)
    keep = (length**2 / np.maximum(area, 1) >= min_elongation) & (length >= min_length)
    keep[0] = False
    return keep[labels]


def negative_points(mask: np.ndarray, n: int, erosion: int, seed: int) -> np.ndarray:
    """``n`` points drawn uniformly from the inverse of ``mask`` eroded by ``erosion`` px."""
    inv = (~mask.astype(bool)).astype(np.uint8)
    if erosion > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erosion + 1, 2 * erosion + 1))
        inv = cv2.erode(inv, k, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    ys, xs = np.nonzero(inv)
    if n <= 0 or len(xs) == 0:
        return np.zeros((0, 2), np.float32)
    idx = np.random.default_rng(seed).choice(len(xs), min(n, len(xs)), replace=False)
    return np.stack([xs[idx], ys[idx]], 1).astype(np.float32)


def make_prompts(prob: np.ndarray, p: PromptParams) -> Prompts:
    """Algorithm 1: coarse hair probability (H, W) float in [0, 1] -> point prompts."""
    return prompts_from_mask(remove_small_components(binarize(prob, p.threshold), p.min_area), p)


def prompts_from_mask(mask: np.ndarray, p: PromptParams) -> Prompts:
    """Algorithm 1 from the binarised, filtered coarse mask M̂ ((H, W) bool)."""
    pos, boxes = positive_points(mask, p)
    neg = negative_points(mask, p.n_negative, p.negative_erosion, p.seed)
    return Prompts(pos, neg, boxes)


def random_positive_points(mask_shape: tuple[int, int], n: int, seed: int) -> np.ndarray:
    """Ablation (paper Table 5): positives drawn uniformly over the frame instead of from M̂."""
    h, w = mask_shape
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(0, w, n), rng.uniform(0, h, n)], 1).astype(np.float32)
