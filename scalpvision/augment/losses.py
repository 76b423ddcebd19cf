"""The DiffuseIT-M guidance loss (paper eqs. 9-14, Appendix B; reference-method.md §9.3).

Every term is reduced **per image** and summed over the batch, so the gradient an image gets
does not depend on what else is in its batch (a batch of B equals B runs of one).

L = λ_sty·‖CLS(x̂) − CLS(x_g)‖² + λ_mse·‖x̂ − x_g‖²                        style
  + λ_ssim·‖S(K(x̂)) − S(K(x_s))‖² + λ_contra·PatchNCE(K(x̂), K(x_s))     content
  + [early]·λ_sem·(−‖CLS(x̂) − CLS(x̂_prev)‖²)                          semantic divergence
  + λ_range·‖x̂0 − clamp(x̂0)‖²                                          range
  + λ_mask·‖x̂⊙(1−m) − x_s⊙(1−m)‖² (+ LPIPS of the two, when its weights are local)   mask

K: last-block keys, S: their cosine self-similarity, m: the editable region (1 = scalp).
Unlike the reference, L_mask compares the masked output with the *masked* source (eq. 14).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Targets:
    """What the loss compares with, computed once per batch: the source and target frames
    ``(B, 3, H, W)`` in [-1, 1], the editable region ``m: (B, 1, H, W)`` in [0, 1], the
    source's keys and CLS and the target's CLS (detached)."""
    src: torch.Tensor
    trg: torch.Tensor
    m: torch.Tensor
    src_keys: torch.Tensor
    src_cls: torch.Tensor
    trg_cls: torch.Tensor


def _per_image(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).mean(1)


def self_similarity(keys: torch.Tensor) -> torch.Tensor:
    k = F.normalize(keys, dim=-1)
    return k @ k.transpose(1, 2)


def patch_nce(q: torch.Tensor, k: torch.Tensor, tau: float) -> torch.Tensor:
    """Per image: cross-entropy of token i of the output against token i of the source among
    all source tokens (the diagonal of the negatives masked with −10, as in CUT); (B,)."""
    q, k = F.normalize(q, dim=-1), F.normalize(k.detach(), dim=-1)
    pos = (q * k).sum(-1, keepdim=True)  # (B, N, 1)
    neg = q @ k.transpose(1, 2)  # (B, N, N)
    eye = torch.eye(neg.shape[1], dtype=torch.bool)[None]
    neg = neg.masked_fill(eye, -10.0)
    logits = torch.cat([pos, neg], dim=2) / tau
    target = torch.zeros(logits.shape[:2], dtype=torch.long)
    return F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none"
                           ).view(logits.shape[:2]).mean(1)


def guidance_loss(x_in: torch.Tensor, x0: torch.Tensor, tg: Targets, feats,
                  prev_cls: torch.Tensor | None, w, tau: float, lpips=None
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``L`` summed over the batch and its terms per image (for logging and the range
    restart). ``feats = (keys, cls)`` of ``x_in`` from one encoder forward; ``prev_cls`` is
    None once the semantic term is off; ``w``: :class:`~scalpvision.augment.params.LossWeights`
    (a zero weight skips its term)."""
    keys, cls = feats
    parts: dict[str, torch.Tensor] = {}
    if w.style:
        parts["style"] = w.style * _per_image((cls - tg.trg_cls) ** 2)
    if w.mse:
        parts["mse"] = w.mse * _per_image((x_in - tg.trg) ** 2)
    if w.ssim:
        parts["ssim"] = w.ssim * _per_image(
            (self_similarity(keys) - self_similarity(tg.src_keys)) ** 2)
    if w.contra:
        parts["contra"] = w.contra * patch_nce(keys, tg.src_keys, tau)
    if w.sem and prev_cls is not None:
        parts["sem"] = -w.sem * _per_image((cls - prev_cls) ** 2)
    if w.range:
        parts["range"] = w.range * _per_image((x0 - x0.clamp(-1, 1)) ** 2)
    if w.mask:
        keep = 1 - tg.m
        term = _per_image((x_in * keep - tg.src * keep) ** 2)
        if lpips is not None:
            term = term + lpips(x_in * keep, tg.src * keep).flatten(1).mean(1)
        parts["mask"] = w.mask * term
    total = sum(parts.values()) if parts else x_in.sum() * 0
    return total.sum(), parts
