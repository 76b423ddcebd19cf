"""Line strokes: the faint hairs the AND cannot keep, found by their shape (not in the paper).

The offline refiner (GrabCut) decides by one colour model per image, so a hair only a few grey
levels off the skin is scalp to it, and U²-Net, trained on pseudo pairs, hardly sees light
(grey, white) hairs; the AND keeps no more than either. Measured on the generality suite, the
segmenter kept 6-13 % of the hairs under 40 grey levels of contrast (`docs/features.md`).

A hair is a line: across it, the centre differs from *both* sides in the same direction, by
about the same amount, whatever its colour. :func:`line_contrast` measures that directly: at
each pixel and scale, the grey level at the pixel against the two points ``2 sigma + 1`` px away
on either side across the local Hessian direction; the contrast is the smaller of the two
differences when both have the same sign, else 0. A step edge (a flake's or a plug's rim, the
field-of-view border) has one side equal to the centre and scores ~0. A round spot (a pore, a
dot) is curved as much along as across; where that curvature ratio exceeds ``max_ratio`` it
scores 0 (Frangi's blob test), so pores beside a hair do not join its stroke.
:func:`line_strokes` keeps the components of contrast >= ``threshold`` that are long and
hair-shaped (skeleton length and length^2/area, as
:func:`~scalpvision.segmentation.prompts.elongated_components`).

The segmenter adds them to M̂ AND M_AP before the boundary step, which then sets their edges by
the local hair and scalp colours, as for every other hair of M.

Pure functions; (H, W, 3) uint8 RGB and (H, W) bool in, (H, W) float32 / bool out.
"""

from __future__ import annotations

import cv2
import numpy as np

from scalpvision.morphology import skeletonize
from scalpvision.segmentation.hessian import across, hessian
from scalpvision.segmentation.params import StrokeParams
from scalpvision.segmentation.prompts import elongated_components


def line_contrast(image: np.ndarray, sigmas: tuple[float, ...], max_ratio: float = 1.0
                  ) -> np.ndarray:
    """(H, W) float32 >= 0: the symmetric line contrast in grey levels, the largest over
    ``sigmas`` (px). At scale s the sides are sampled ``2 s + 1`` px away, from the image
    smoothed at max(s / 2, 0.5) px. Where the Hessian's curvature along the line exceeds
    ``max_ratio`` times the curvature across it (a spot, a pore beside a hair), the contrast
    at that scale is 0."""
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = g.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    best = np.zeros_like(g)
    for s in sigmas:
        theta, l_across, l_along = across(*hessian(cv2.GaussianBlur(g, (0, 0), s)))
        d = 2.0 * s + 1.0
        dx, dy = (d * np.cos(theta)).astype(np.float32), (d * np.sin(theta)).astype(np.float32)
        centre = cv2.GaussianBlur(g, (0, 0), max(s / 2, 0.5))
        one = centre - cv2.remap(centre, xs + dx, ys + dy, cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT)
        two = centre - cv2.remap(centre, xs - dx, ys - dy, cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT)
        line = (np.sign(one) == np.sign(two)) & (np.abs(l_along) <= max_ratio * np.abs(l_across))
        score = np.where(line, np.minimum(np.abs(one), np.abs(two)), 0)
        np.maximum(best, score, out=best)
    return best


def line_strokes(image: np.ndarray, area: np.ndarray, p: StrokeParams) -> np.ndarray:
    """(H, W) bool: the hair-shaped components of line contrast >= ``p.threshold`` inside
    ``area`` (the analysed area), empty when the step is off."""
    if not p.active:
        return np.zeros(image.shape[:2], bool)
    lines = (line_contrast(image, p.sigmas, p.max_ratio) >= p.threshold) & area
    return elongated_components(lines, skeletonize(lines), p.min_elongation, p.min_length)
