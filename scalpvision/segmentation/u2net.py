"""U²-Net (full, 44M params) and U²-Net-lite (U2NETP, 1.1M) in one self-contained file.

Architecture as published (Qin et al., "U²-Net: Going deeper with nested U-structure for
salient object detection", Pattern Recognition 2020): nested residual U-blocks RSU-L, six
encoder and five decoder stages, six side outputs and a 1x1 fusion. Written from the paper's
description for this project. Differences from the reference code (reference-method.md §3):
the forward pass returns **logits** (d0 fused, d1..d6), and the training loss is
``BCEWithLogits`` on each of the seven outputs, which is numerically safer than BCE on
sigmoid outputs; :meth:`U2Net.predict` applies the sigmoid.

Build models through :func:`build_u2net` (a registry, ``checkpoint=`` loads weights with
``weights_only=True``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Module):
    def __init__(self, cin: int, cout: int, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _up_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[2:], mode="bilinear", align_corners=False)


class RSU(nn.Module):
    """Residual U-block of height ``height`` (RSU-7 ... RSU-4): a small U-Net whose output is
    added to its input projection. Pooling is 2x max with ceil; the bottom uses dilation 2."""

    def __init__(self, height: int, cin: int, mid: int, cout: int):
        super().__init__()
        self.height = height
        self.conv_in = ConvBNReLU(cin, cout)
        self.enc = nn.ModuleList([ConvBNReLU(cout, mid)] +
                                 [ConvBNReLU(mid, mid) for _ in range(height - 2)])
        self.bottom = ConvBNReLU(mid, mid, dilation=2)
        self.dec = nn.ModuleList([ConvBNReLU(2 * mid, mid) for _ in range(height - 2)] +
                                 [ConvBNReLU(2 * mid, cout)])

    def forward(self, x):
        hx_in = self.conv_in(x)
        feats, hx = [], hx_in
        for i, conv in enumerate(self.enc):
            hx = conv(hx)
            feats.append(hx)
            if i < len(self.enc) - 1:
                hx = F.max_pool2d(hx, 2, 2, ceil_mode=True)
        hx = self.bottom(hx)
        for conv, skip in zip(self.dec, reversed(feats)):
            hx = conv(torch.cat([_up_like(hx, skip), skip], 1))  # (B, 2*mid, h, w) -> (B, mid, h, w)
        return hx + hx_in


class RSU4F(nn.Module):
    """RSU-4F: no pooling, dilations 1/2/4/8 down and 4/2/1 up (used at the lowest resolutions)."""

    def __init__(self, cin: int, mid: int, cout: int):
        super().__init__()
        self.conv_in = ConvBNReLU(cin, cout)
        self.enc = nn.ModuleList([ConvBNReLU(cout, mid, 1), ConvBNReLU(mid, mid, 2),
                                  ConvBNReLU(mid, mid, 4)])
        self.bottom = ConvBNReLU(mid, mid, 8)
        self.dec = nn.ModuleList([ConvBNReLU(2 * mid, mid, 4), ConvBNReLU(2 * mid, mid, 2),
                                  ConvBNReLU(2 * mid, cout, 1)])

    def forward(self, x):
        hx_in = self.conv_in(x)
        feats, hx = [], hx_in
        for conv in self.enc:
            hx = conv(hx)
            feats.append(hx)
        hx = self.bottom(hx)
        for conv, skip in zip(self.dec, reversed(feats)):
            hx = conv(torch.cat([hx, skip], 1))
        return hx + hx_in


# (kind, height, in, mid, out) per stage: encoder 1..6, then decoder 5d..1d
_FULL = {
    "enc": [("rsu", 7, 3, 32, 64), ("rsu", 6, 64, 32, 128), ("rsu", 5, 128, 64, 256),
            ("rsu", 4, 256, 128, 512), ("f", 4, 512, 256, 512), ("f", 4, 512, 256, 512)],
    "dec": [("f", 4, 1024, 256, 512), ("rsu", 4, 1024, 128, 256), ("rsu", 5, 512, 64, 128),
            ("rsu", 6, 256, 32, 64), ("rsu", 7, 128, 16, 64)],
    "side": [64, 64, 128, 256, 512, 512],
}
_LITE = {
    "enc": [("rsu", 7, 3, 16, 64), ("rsu", 6, 64, 16, 64), ("rsu", 5, 64, 16, 64),
            ("rsu", 4, 64, 16, 64), ("f", 4, 64, 16, 64), ("f", 4, 64, 16, 64)],
    "dec": [("f", 4, 128, 16, 64), ("rsu", 4, 128, 16, 64), ("rsu", 5, 128, 16, 64),
            ("rsu", 6, 128, 16, 64), ("rsu", 7, 128, 16, 64)],
    "side": [64, 64, 64, 64, 64, 64],
}


def _block(kind, height, cin, mid, cout, in_ch):
    cin = in_ch if cin == 3 else cin
    return RSU(height, cin, mid, cout) if kind == "rsu" else RSU4F(cin, mid, cout)


class U2Net(nn.Module):
    """U²-Net. ``forward``: (B, C, H, W) float -> 7 logit maps (B, 1, H, W): fused d0, d1..d6."""

    def __init__(self, spec: dict, in_ch: int = 3):
        super().__init__()
        self.encoders = nn.ModuleList([_block(*s, in_ch=in_ch) for s in spec["enc"]])
        self.decoders = nn.ModuleList([_block(*s, in_ch=in_ch) for s in spec["dec"]])
        self.sides = nn.ModuleList([nn.Conv2d(c, 1, 3, padding=1) for c in spec["side"]])
        self.fuse = nn.Conv2d(6, 1, 1)

    def forward(self, x):
        feats, hx = [], x
        for i, enc in enumerate(self.encoders):
            hx = enc(hx)
            feats.append(hx)
            if i < len(self.encoders) - 1:
                hx = F.max_pool2d(hx, 2, 2, ceil_mode=True)
        dec_out = [feats[-1]]  # stage 6 output feeds the decoder directly
        hx = feats[-1]
        for dec, skip in zip(self.decoders, reversed(feats[:-1])):
            hx = dec(torch.cat([_up_like(hx, skip), skip], 1))
            dec_out.append(hx)
        # side outputs from stage 1d (finest) .. stage 6 (coarsest), all at input size
        sides = [_up_like(side(f), x) for side, f in zip(self.sides, reversed(dec_out))]
        d0 = self.fuse(torch.cat(sides, 1))
        return [d0, *sides]

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Hair probability (B, 1, H, W) in [0, 1] from the fused output."""
        return torch.sigmoid(self.forward(x)[0])


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0,
                   weight: torch.Tensor | None = None) -> torch.Tensor:
    """1 - soft Dice of sigmoid(logits) against the target, per image then averaged; pixels of
    ``weight`` 0 take no part."""
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    if weight is not None:
        w = weight.flatten(1)
        p, t = p * w, t * w
    return (1 - (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def multi_bce_loss(outputs: list[torch.Tensor], target: torch.Tensor,
                   dice_weight: float = 0.0, weight: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of BCE over the seven outputs (reference §3 "multi-BCE fusion"), plus, when
    ``dice_weight`` > 0, that weight times a soft-Dice term on each output (not in the paper:
    it speeds up learning of thin, rare hair pixels on a short CPU budget). ``weight``
    (B, 1, H, W): per-pixel loss weights, 0 = ignored (self-training's unsure pixels). Returns
    (total, fused-output BCE)."""
    losses = [F.binary_cross_entropy_with_logits(o, target, weight=weight) for o in outputs]
    total = torch.stack(losses).sum()
    if dice_weight > 0:
        total = total + dice_weight * torch.stack(
            [soft_dice_loss(o, target, weight=weight) for o in outputs]).sum()
    return total, losses[0]


def _build(spec):
    def builder(checkpoint: str | Path | None = None, in_ch: int = 3) -> U2Net:
        model = U2Net(spec, in_ch)
        if checkpoint:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
        return model
    return builder


U2NET_REGISTRY = {"full": _build(_FULL), "lite": _build(_LITE)}


def build_u2net(variant: str = "lite", checkpoint: str | Path | None = None,
                in_ch: int = 3) -> U2Net:
    """Build a U²-Net variant ("full" | "lite"), optionally loading a local checkpoint."""
    if variant not in U2NET_REGISTRY:
        raise ValueError(f"unknown U²-Net variant {variant!r}; valid: {', '.join(U2NET_REGISTRY)}")
    return U2NET_REGISTRY[variant](checkpoint=checkpoint, in_ch=in_ch)
