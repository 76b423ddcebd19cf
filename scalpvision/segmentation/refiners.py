"""Prompt-driven refiners behind one interface: ``refine(image, prompts, coarse) -> mask``.

* :class:`SamRefiner` - Segment Anything (``segment_anything``) from a local checkpoint,
  multimask output, the highest-scoring mask per prompt, prompts batched.
* :class:`GrabCutRefiner` - the offline default when no SAM checkpoint is configured: OpenCV
  GrabCut (Rother et al., 2004), training-free and edge/colour-aware, seeded by the same positive
  and negative points plus the coarse mask. Needs no weights, so it works on a fresh machine.

Shapes: ``image`` (H, W, 3) uint8 RGB; ``coarse`` (H, W) bool; result (H, W) bool.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from scalpvision.errors import BadInputError, MissingInputError
from scalpvision.segmentation.params import RefinerParams
from scalpvision.segmentation.prompts import Prompts


class Refiner(Protocol):
    name: str

    def refine(self, image: np.ndarray, prompts: Prompts, coarse: np.ndarray) -> np.ndarray: ...


@dataclass
class GrabCutRefiner:
    """GrabCut seeded by prompts: positives -> sure hair, negatives and pixels far from the
    coarse mask -> sure scalp, the coarse mask -> probable hair, a band round it -> probable
    scalp.

    GrabCut initialises its colour models with k-means on OpenCV's per-thread random generator,
    which every call advances: without a reset an image's mask would depend on which images the
    same thread refined before it (measured: up to 445 pixels of M moved when a folder was
    segmented in reverse order). The generator is reseeded before every call, so a mask depends
    on its image alone."""

    iterations: int = 3
    band: int = 12  # px round the coarse mask left for GrabCut to decide
    point_radius: int = 1
    rng_seed: int = 0  # OpenCV's thread generator is set to this before each GrabCut
    name: str = "grabcut"

    def refine(self, image: np.ndarray, prompts: Prompts, coarse: np.ndarray) -> np.ndarray:
        if not coarse.any() or len(prompts.positive_xy) == 0:
            return np.zeros_like(coarse, bool)
        gc = np.full(coarse.shape, cv2.GC_BGD, np.uint8)
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * self.band + 1,) * 2)
        near = cv2.dilate(coarse.astype(np.uint8), k) > 0
        gc[near] = cv2.GC_PR_BGD
        gc[coarse] = cv2.GC_PR_FGD
        for x, y in np.round(prompts.negative_xy).astype(int):
            cv2.circle(gc, (int(x), int(y)), 3, cv2.GC_BGD, -1)
        for x, y in np.round(prompts.positive_xy).astype(int):
            cv2.circle(gc, (int(x), int(y)), self.point_radius, cv2.GC_FGD, -1)
        if not (gc == cv2.GC_BGD).any():  # GrabCut needs background samples
            return coarse.copy()
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        cv2.setRNGSeed(self.rng_seed)  # this thread's generator: the mask depends on the image only
        cv2.grabCut(bgr, gc, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
        return prompted_components((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD),
                                   prompts.positive_xy)


def prompted_components(mask: np.ndarray, positive_xy: np.ndarray) -> np.ndarray:
    """Keep the 8-connected components of ``mask`` that hold a positive point: a point-prompted
    segmenter returns the objects under its points (as SAM does), not unprompted regions."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1 or len(positive_xy) == 0:
        return np.zeros_like(mask, bool)
    h, w = mask.shape
    xy = np.round(positive_xy).astype(int)
    keep = np.zeros(n, bool)
    for dy in (-1, 0, 1):  # a point may sit one pixel off a thin hair
        for dx in (-1, 0, 1):
            keep[labels[np.clip(xy[:, 1] + dy, 0, h - 1), np.clip(xy[:, 0] + dx, 0, w - 1)]] = True
    keep[0] = False
    return keep[labels]


SAM_VARIANTS = ("vit_b", "vit_l", "vit_h")


def tiny_sam(img_size: int = 256, embed_dim: int = 96, depth: int = 2, heads: int = 3,
             prompt_dim: int = 64):
    """A small randomly initialised Sam built from ``segment_anything.modeling`` (tests,
    plumbing); same classes and predictor code path as the real ViT-B/L/H."""
    import torch
    from segment_anything.modeling import (
        ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer,
    )
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=img_size, patch_size=16, embed_dim=embed_dim, depth=depth, num_heads=heads,
            mlp_ratio=4, out_chans=prompt_dim, qkv_bias=True, use_rel_pos=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), window_size=4,
            global_attn_indexes=(depth - 1,)),
        prompt_encoder=PromptEncoder(embed_dim=prompt_dim,
                                     image_embedding_size=(img_size // 16, img_size // 16),
                                     input_image_size=(img_size, img_size), mask_in_chans=16),
        mask_decoder=MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(
            depth=2, embedding_dim=prompt_dim, mlp_dim=256, num_heads=4),
            transformer_dim=prompt_dim, iou_head_depth=3, iou_head_hidden_dim=64),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375]).eval()


def build_sam(variant: str, checkpoint: str | Path):
    """Load SAM ``vit_b`` / ``vit_l`` / ``vit_h`` (or ``tiny``) from a local checkpoint file."""
    import torch

    path = Path(checkpoint)
    if not path.is_file():
        raise MissingInputError(f"{path}: SAM checkpoint not found (segment.sam_checkpoint)")
    if variant == "tiny":
        sam = tiny_sam()
        sam.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return sam.eval()
    if variant not in SAM_VARIANTS:
        raise BadInputError(f"unknown SAM variant {variant!r}; valid: {', '.join(SAM_VARIANTS)}, tiny")
    from segment_anything import sam_model_registry

    sam = sam_model_registry[variant](checkpoint=None)
    sam.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return sam.eval()


@dataclass
class SamRefiner:
    """SAM with automatic prompts. Positives are split into groups of ``points_per_prompt``
    (each group plus all negatives is one prompt); the prompts run as one batch, each keeps its
    highest-scoring multimask output, and the union is the hair mask (M_AP)."""

    sam: object
    points_per_prompt: int = 16
    name: str = "sam"

    def __post_init__(self):
        from segment_anything import SamPredictor

        self.predictor = SamPredictor(self.sam)

    def refine(self, image: np.ndarray, prompts: Prompts, coarse: np.ndarray) -> np.ndarray:
        import torch

        pos, neg = prompts.positive_xy, prompts.negative_xy
        if len(pos) == 0:
            return np.zeros(image.shape[:2], bool)
        self.predictor.set_image(image)
        groups = [pos[i:i + self.points_per_prompt] for i in range(0, len(pos),
                                                                     self.points_per_prompt)]
        n = max(len(g) for g in groups) + len(neg)
        coords = np.zeros((len(groups), n, 2), np.float32)
        labels = np.full((len(groups), n), -1, np.int32)  # -1 = padding point, ignored by SAM
        for i, g in enumerate(groups):
            pts = np.concatenate([g, neg])
            coords[i, :len(pts)] = pts
            labels[i, :len(g)] = 1
            labels[i, len(g):len(pts)] = 0
        tr = self.predictor.transform
        c = torch.as_tensor(tr.apply_coords(coords, image.shape[:2]))
        with torch.no_grad():
            masks, scores, _ = self.predictor.predict_torch(
                c, torch.as_tensor(labels), multimask_output=True)  # (G, 3, H, W), (G, 3)
        best = scores.argmax(1)
        chosen = masks[torch.arange(len(groups)), best]  # (G, H, W)
        return chosen.any(0).numpy()


def make_refiner(p: RefinerParams, **kwargs) -> Refiner:
    """``auto``: SAM when a checkpoint is configured, else the offline GrabCut refiner."""
    kind, sam_model, sam_checkpoint = p.name, p.sam_model, p.sam_checkpoint
    grabcut_iterations = p.grabcut_iterations
    if kind == "auto":
        kind = "sam" if sam_checkpoint else "grabcut"
    if kind == "sam":
        if not sam_checkpoint:
            raise BadInputError("refiner 'sam' needs segment.refiner.sam_checkpoint (a local .pth file)")
        return SamRefiner(build_sam(sam_model, sam_checkpoint),
                          kwargs.get("points_per_prompt", 16))
    if kind == "grabcut":
        return GrabCutRefiner(iterations=grabcut_iterations)
    raise BadInputError(f"unknown refiner {kind!r}; valid: auto, sam, grabcut")


def unguided_sam_mask(sam, image: np.ndarray, min_elongation: float = 4.0,
                      points_per_side: int = 16) -> np.ndarray:
    """Baseline "SAM without prompts" (paper Table 1): SAM's automatic mask generator on a point
    grid; the union of the generated masks that are hair-shaped (elongated, as in
    :func:`scalpvision.segmentation.prompts.elongated_components`)."""
    from segment_anything import SamAutomaticMaskGenerator

    from scalpvision.morphology import skeletonize

    gen = SamAutomaticMaskGenerator(sam, points_per_side=points_per_side)
    out = np.zeros(image.shape[:2], bool)
    for m in gen.generate(image):
        seg = m["segmentation"]
        length = skeletonize(seg).sum()
        if length**2 / max(seg.sum(), 1) >= min_elongation:
            out |= seg
    return out
