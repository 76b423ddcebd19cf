"""The analysed area of a trichoscope frame: its round field of view minus the capture
software's graphics (status strips, scale bars, coloured circles and their text).

Three signs, none of them about hair, so they hold on any microscope:

* outside the field of view the frame is near black: dark regions that touch the frame's edge;
* status strips and padding are *flat* bands along the frame's edge: a region touching the edge
  whose grey level varies by less than ``flat_std`` in a 5 x 5 window, filling most of its
  bounding box, no thicker than ``max_strip_share`` of the frame - it takes its whole box, text
  included (flatness alone is no sign inside the frame: heavily compressed skin is flat too);
* overlay lines are drawn in pure primaries: pixels with one channel above ``primary_min`` and
  both others ``primary_gap`` below it, far more saturated than skin, erythema or hair;
* the field of view's outside is a large dark region reaching a frame corner; a dark hair is
  removed first by an opening wider than any hair.

``analysed_area`` returns the mask and what it excluded; masks and features are restricted to
it and densities are per analysed area.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AreaParams:
    dark_fraction: float = 0.2  # darker than this x the frame's median: outside the field
    hair_radius: int = 12  # px: dark structures narrower than 2x this are hairs, not the edge
    min_dark_share: float = 0.005  # ... when such a border-touching region is this share of it
    flat_std: float = 0.5  # grey-level std in 5 x 5 below which a pixel is flat
    min_flat_area: int = 150  # px: flat edge regions at least this large ...
    box_fill: float = 0.6  # ... filling this share of their box ...
    max_strip_share: float = 0.15  # ... and no thicker than this share of the frame: a strip
    primary_min: int = 180  # overlay colour: one channel at least this ...
    primary_gap: int = 150  # ... and both others this much lower
    margin: int = 3  # px grown round every excluded region


@dataclass
class AnalysedArea:
    """``mask`` (H, W) bool analysed pixels; ``outside_field``, ``graphics`` (H, W) bool."""

    mask: np.ndarray
    outside_field: np.ndarray
    graphics: np.ndarray

    @property
    def share(self) -> float:
        return float(self.mask.mean())

    def summary(self) -> dict[str, float]:
        return {"analysed_share": round(self.share, 4),
                "outside_field_share": round(float(self.outside_field.mean()), 4),
                "graphics_share": round(float(self.graphics.mean()), 4)}


def _corner_touching(mask: np.ndarray, min_area: int) -> np.ndarray:
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[[lab[0, 0], lab[0, -1], lab[-1, 0], lab[-1, -1]]] = True
    keep[0] = False
    keep &= stats[:, cv2.CC_STAT_AREA] >= min_area
    return keep[lab]


def analysed_area(image: np.ndarray, p: AreaParams = AreaParams()) -> AnalysedArea:
    """Analysed area of ``image`` ((H, W, 3) uint8 RGB)."""
    h, w = image.shape[:2]
    grey = image.astype(np.float32).mean(2)
    smooth = cv2.GaussianBlur(grey, (0, 0), 3)
    dark = smooth < p.dark_fraction * max(float(np.median(grey)), 1.0)
    # hairs are dark too, but thin: an opening wider than any hair leaves only the field's edge
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * p.hair_radius + 1,) * 2)
    dark = cv2.morphologyEx(dark.astype(np.uint8), cv2.MORPH_OPEN, k) > 0
    outside = _corner_touching(dark, int(p.min_dark_share * h * w))

    mean = cv2.boxFilter(grey, -1, (5, 5))
    var = cv2.boxFilter(grey * grey, -1, (5, 5)) - mean * mean
    flat = (var < p.flat_std**2) & ~outside
    n, lab, stats, _ = cv2.connectedComponentsWithStats(flat.astype(np.uint8), connectivity=8)
    graphics = np.zeros((h, w), bool)
    for k in np.nonzero(stats[:, cv2.CC_STAT_AREA] >= p.min_flat_area)[0]:
        x, y, bw, bh, area = stats[k]
        at_edge = x == 0 or y == 0 or x + bw == w or y + bh == h
        thin = min(bh / h, bw / w) <= p.max_strip_share
        if k and at_edge and thin and area >= p.box_fill * bw * bh:
            graphics[y:y + bh, x:x + bw] = True

    c = image.astype(np.int16)
    for i in range(3):
        others = [c[..., j] for j in range(3) if j != i]
        graphics |= ((c[..., i] >= p.primary_min) & (c[..., i] - others[0] >= p.primary_gap)
                     & (c[..., i] - others[1] >= p.primary_gap))
    if p.margin > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * p.margin + 1,) * 2)
        graphics = cv2.dilate(graphics.astype(np.uint8), k) > 0
        outside = cv2.dilate(outside.astype(np.uint8), k) > 0
    return AnalysedArea(~(outside | graphics), outside, graphics & ~outside)
