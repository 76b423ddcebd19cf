"""Masks in and images out: the editable region at the model's frame, the scalp-only colour
match, and the final 640×480 composite (hair pixels from the full-resolution source, scalp
from the generated frame)."""

from __future__ import annotations

import cv2
import numpy as np
import torch


def editable_region(hair: np.ndarray, mode: str) -> np.ndarray:
    """``hair: (H, W) bool`` (the source's mask M) -> the editable region m as float (H, W):
    ``inverse_hair`` 1 − M (the method), ``hair`` M, ``zeros`` nothing, ``ones`` everything
    (paper Fig. 7)."""
    h = hair.astype(np.float32)
    return {"inverse_hair": 1 - h, "hair": h, "zeros": np.zeros_like(h),
            "ones": np.ones_like(h)}[mode]


def region_at(m_full: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The region at the model frame ``size = (H, W)``: area-averaged, so a hair thinner than
    a model pixel keeps that pixel partly (soft blend) instead of vanishing."""
    h, w = size
    return cv2.resize(m_full, (w, h), interpolation=cv2.INTER_AREA).clip(0, 1)


def feathered(m_full: np.ndarray, mode: str) -> np.ndarray:
    """The full-resolution region used for the composite: every kept pixel stays exactly the
    source's, and a soft one-pixel fringe (σ 0.8 px) around it hides the seam."""
    if mode in ("zeros", "ones"):
        return m_full
    core = (m_full < 0.5).astype(np.float32)
    grown = cv2.dilate(core, np.ones((3, 3), np.uint8))
    keep = np.maximum(cv2.GaussianBlur(grown, (0, 0), 0.8), core)
    return 1 - keep.clip(0, 1)


def mkl_transfer(pixels: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The Monge-Kantorovich linear colour map (Pitié & Kokaram 2007) taking the distribution of
    ``pixels: (P, 3)`` to that of ``target: (Q, 3)``: the symmetric T with
    y = (x − μs)·T + μt (covariance of y = that of the target)."""
    cs = np.cov(pixels.T) + 1e-6 * np.eye(3)
    ct = np.cov(target.T) + 1e-6 * np.eye(3)
    ws, vs = np.linalg.eigh(cs)
    s_half = vs @ np.diag(np.sqrt(ws.clip(1e-12))) @ vs.T
    s_ihalf = vs @ np.diag(1 / np.sqrt(ws.clip(1e-12))) @ vs.T
    wm, vm = np.linalg.eigh(s_half @ ct @ s_half)
    mid = vm @ np.diag(np.sqrt(wm.clip(0))) @ vm.T
    return s_ihalf @ mid @ s_ihalf


def match_scalp_colour(gen: np.ndarray, region: np.ndarray, target: np.ndarray,
                       target_hair: np.ndarray) -> np.ndarray:
    """``gen: (H, W, 3) uint8`` with its editable ``region`` (H, W) float; the scalp colours
    (region > 0.5) are mapped onto the target's scalp colours (outside ``target_hair``), the
    hair is untouched (the reference maps the whole picture, hair included)."""
    sel = region > 0.5
    tsel = ~target_hair
    if sel.sum() < 50 or tsel.sum() < 50:
        return gen
    src, trg = gen[sel].astype(np.float64), target[tsel].astype(np.float64)
    t = mkl_transfer(src, trg)
    out = gen.astype(np.float64)
    mapped = ((out.reshape(-1, 3) - src.mean(0)) @ t + trg.mean(0)).reshape(gen.shape)
    r = region[..., None].clip(0, 1)
    out = r * mapped + (1 - r) * out
    return out.clip(0, 255).round().astype(np.uint8)


def composite(source_full: np.ndarray, gen: np.ndarray, m_full: np.ndarray) -> np.ndarray:
    """The 640×480 result: ``gen`` (the model frame) resized to the source, then
    ``(1 − m)·source + m·gen`` with the feathered full-resolution region ``m_full``."""
    h, w = source_full.shape[:2]
    up = cv2.resize(gen, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    m = m_full[..., None].astype(np.float32)
    return (m * up + (1 - m) * source_full.astype(np.float32)).clip(0, 255).round().astype(
        np.uint8)


def to_region_tensor(regions: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(regions)[:, None].astype(np.float32))
