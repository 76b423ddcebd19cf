"""The guidance encoder: a timm Vision Transformer whose last block gives the loss its
features - the **keys** of the last attention (content: self-similarity and patch-NCE) and the
pre-norm **CLS** token (style, semantic divergence).

Two sources, one code path (both are timm ``VisionTransformer``s):

* ``dino``: DINO ViT-S/8 or ViT-B/8 from a local checkpoint (the paper's ``dino_vitb8``),
  fed ImageNet-normalised frames with the short side at ``guidance.short_side`` (224);
* ``trained`` (offline default): an in-domain ViT the ``guidance_encoder`` stage trains
  **supervised on the train split's condition labels** (the four-head loss of the classifier)
  at the diffusion frame. It is called ``scalp-vit (in-domain, supervised)`` everywhere it is
  reported, and is never presented as DINO.

One forward per call returns both: a hook on ``blocks[-1].attn.qkv`` takes the keys while
``forward_intermediates`` returns the last block's tokens (CLS before the final norm).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from scalpvision.errors import MissingInputError

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CONFIG = "encoder.json"
WEIGHTS = "encoder.pt"
TRAINED_NAME = "scalp-vit (in-domain, supervised)"


class GuidanceEncoder(torch.nn.Module):
    """``forward(x01: (B, 3, H, W) in [0, 1]) -> (keys (B, N, D), cls (B, D))``."""

    def __init__(self, vit: torch.nn.Module, short_side: int, mean, std, name: str):
        super().__init__()
        self.vit = vit.eval().requires_grad_(False)
        self.short_side, self.name = short_side, name
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self._keys = None
        self.calls = 0  # forwards, counted for the cost report
        vit.blocks[-1].attn.qkv.register_forward_hook(self._grab)

    def _grab(self, module, inputs, out):
        b, n, _ = out.shape
        heads = self.vit.blocks[-1].attn.num_heads
        self._keys = out.reshape(b, n, 3, heads, -1)[:, :, 1].reshape(b, n, -1)

    def prepare(self, x01: torch.Tensor) -> torch.Tensor:
        h, w = x01.shape[-2:]
        s = self.short_side / min(h, w)
        p = self.vit.patch_embed.patch_size[0]
        size = (max(p, round(h * s / p) * p), max(p, round(w * s / p) * p))
        if size != (h, w):
            x01 = F.interpolate(x01, size=size, mode="bilinear", align_corners=False,
                                antialias=False)
        return (x01 - self.mean) / self.std

    def forward(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        inter = self.vit.forward_intermediates(
            self.prepare(x01), indices=[len(self.vit.blocks) - 1], return_prefix_tokens=True,
            norm=False, intermediates_only=True, output_fmt="NLC")
        _, prefix = inter[-1]
        return self._keys, prefix[:, 0]


def build_scalp_vit(tp, height: int, width: int, with_heads: bool = True):
    """The in-domain ViT (``guidance.train``: patch, dim, depth, heads) at the diffusion frame;
    with the classifier's four heads on the pooled CLS for training."""
    from timm.models.vision_transformer import VisionTransformer

    vit = VisionTransformer(img_size=(height, width), patch_size=tp.patch, embed_dim=tp.dim,
                            depth=tp.depth, num_heads=tp.heads, num_classes=0,
                            dynamic_img_size=True, class_token=True, global_pool="token")
    if not with_heads:
        return vit
    from scalpvision.classification.model import FourHeadNet

    return FourHeadNet(vit)


def train_scalp_vit(frames: np.ndarray, grades: np.ndarray, val_frames: np.ndarray,
                    val_grades: np.ndarray, groups_val, gp, recipe, mp, gate: float,
                    on_epoch=None):
    """Supervised on the train split's labels with the classifier's own recipe
    (:func:`~scalpvision.classification.train.train_classifier`: four-head loss, AdamW, warm
    restarts, flips, best epoch by validation macro-F1) with ``guidance.train``'s epochs,
    batch, learning rate and seed. ``frames: (N, H, W, 3) uint8`` at the diffusion frame."""
    from dataclasses import replace

    from scalpvision.classification.data import Normalisation
    from scalpvision.classification.train import train_classifier

    tp = gp.train
    torch.manual_seed(tp.seed)
    h, w = frames.shape[1:3]
    net = build_scalp_vit(tp, h, w)
    pads = np.zeros(frames.shape[:3], bool)
    norm = Normalisation.measure(frames, pads)
    recipe = replace(recipe, epochs=tp.epochs, batch_size=tp.batch_size, lr=tp.lr,
                     seed=tp.seed, variant="baseline", imbalance="none")
    net, rec = train_classifier(
        frames, pads, grades, (val_frames, np.zeros(val_frames.shape[:3], bool), val_grades,
                               groups_val), mp, recipe, norm=norm, gate=gate, model=net,
        on_epoch=on_epoch)
    best = max((r["val_macro_f1"] for r in rec["history"]), default=float("nan"))
    return net.backbone.eval(), {"history": rec["history"], "best_val_macro_f1": best,
                                 "mean": list(norm.mean), "std": list(norm.std),
                                 "height": h, "width": w}


def save_encoder_dir(out: Path, vit, gp, record: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.save(vit.state_dict(), out / WEIGHTS)
    (out / CONFIG).write_text(json.dumps({
        "source": "trained", "name": TRAINED_NAME, "train": gp.train.__dict__,
        **{k: record[k] for k in ("mean", "std", "height", "width", "best_val_macro_f1")}},
        indent=1))


def load_encoder(gp, model_dir: str | Path | None = None) -> GuidanceEncoder:
    """The encoder ``guidance.source`` names: DINO from ``guidance.checkpoint``, or the
    trained in-domain ViT from ``model_dir`` (the ``guidance_encoder`` stage's output)."""
    import timm

    if gp.source == "dino":
        if not Path(gp.checkpoint).is_file():
            raise MissingInputError(f"guidance.checkpoint={gp.checkpoint!r}: no such file")
        vit = timm.create_model(gp.dino_model, pretrained=True, num_classes=0,
                                dynamic_img_size=True,
                                pretrained_cfg_overlay={"file": gp.checkpoint})
        return GuidanceEncoder(vit, gp.short_side, *IMAGENET, f"DINO {gp.dino_model}")
    d = Path(model_dir or gp.out_dir)
    if not (d / CONFIG).is_file():
        raise MissingInputError(f"{d}: no trained guidance encoder ({CONFIG}); run the "
                                "`guidance_encoder` stage")
    cfg = json.loads((d / CONFIG).read_text())
    from types import SimpleNamespace

    vit = build_scalp_vit(SimpleNamespace(**cfg["train"]), cfg["height"], cfg["width"],
                          with_heads=False)
    vit.load_state_dict(torch.load(d / WEIGHTS, weights_only=True))
    return GuidanceEncoder(vit, cfg["height"], cfg["mean"], cfg["std"], cfg["name"])
