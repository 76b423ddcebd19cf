"""The four-head scalp-condition network (paper §3.3, eq. 17) and its loss.

A timm backbone with its classifier removed (``num_classes=0``: the pooled features) carries
four linear heads: presence of each condition (3 logits, BCE) and the severity 0-3 of dandruff,
sebum and erythema (4 logits each, cross-entropy). Unlike the reference code the heads do not
sit on the 1000 ImageNet logits, and every loss takes raw logits (the reference applies
sigmoid/softmax before losses that apply them again, reference-method.md §8.3).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from scalpvision.classification.params import ClassifierModelParams
from scalpvision.errors import MissingInputError

CONDITIONS = ("dandruff", "sebum", "erythema")
GRADES = 4


class FourHeadNet(nn.Module):
    """``forward(x: (B, 3, S, S) float) -> {"presence": (B, 3), "dandruff" | "sebum" |
    "erythema": (B, 4)}``, all logits."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        # pooled width: timm's head_hidden_size where a conv head follows the pooling
        dim = getattr(backbone, "head_hidden_size", None) or backbone.num_features
        self.presence = nn.Linear(dim, len(CONDITIONS))
        self.severity = nn.ModuleDict({c: nn.Linear(dim, GRADES) for c in CONDITIONS})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.backbone(x)  # (B, D) pooled features
        out = {"presence": self.presence(f)}
        out.update({c: head(f) for c, head in self.severity.items()})
        return out


def build_classifier(p: ClassifierModelParams) -> tuple[FourHeadNet, str]:
    """The network for ``p.backbone``; returns (model, what initialised the backbone).

    With ``p.checkpoint`` the backbone loads that local file through timm (ImageNet head
    dropped: the four heads are always fresh); without it the backbone starts from random
    weights - what runs offline."""
    import timm

    kwargs = {"num_classes": 0}
    if "vit" in p.backbone or "efficientformer" in p.backbone:
        kwargs["img_size"] = p.image_size
    if p.checkpoint:
        if not Path(p.checkpoint).is_file():
            raise MissingInputError(f"classifier.model.checkpoint={p.checkpoint!r}: no such file")
        backbone = timm.create_model(p.backbone, pretrained=True,
                                     pretrained_cfg_overlay={"file": p.checkpoint}, **kwargs)
        init = f"local checkpoint {p.checkpoint}"
    else:
        try:
            backbone = timm.create_model(p.backbone, pretrained=False, **kwargs)
        except RuntimeError as exc:  # timm: "Unknown model (...)"
            raise ValueError(f"classifier.model.backbone={p.backbone!r}: {exc}") from exc
        init = "random"
    return FourHeadNet(backbone), init


def targets_from_grades(grades: torch.Tensor) -> dict[str, torch.Tensor]:
    """``grades: (B, 3) int64`` (dandruff, sebum, erythema) -> presence (B, 3) float (grade > 0)
    and the three severity targets (B,) int64."""
    out = {"presence": (grades > 0).float()}
    out.update({c: grades[:, k] for k, c in enumerate(CONDITIONS)})
    return out


def four_head_loss(out: dict[str, torch.Tensor], grades: torch.Tensor, *,
                   class_weights: dict[str, torch.Tensor] | None = None,
                   focal_gamma: float = 0.0) -> torch.Tensor:
    """Eq. 17: BCE(presence logits) + the three severity cross-entropies, equal weights.

    ``class_weights``: per-condition (4,) weights of the severity losses (inverse frequency);
    ``focal_gamma`` > 0: focal cross-entropy (Lin et al. 2017) on the severity heads."""
    t = targets_from_grades(grades)
    loss = F.binary_cross_entropy_with_logits(out["presence"], t["presence"])
    for c in CONDITIONS:
        w = None if class_weights is None else class_weights[c]
        if focal_gamma > 0:
            logp = F.log_softmax(out[c], dim=1).gather(1, t[c][:, None])[:, 0]  # (B,)
            per = -((1 - logp.exp()) ** focal_gamma) * logp
            if w is not None:
                per = per * w[t[c]]
                loss = loss + per.sum() / w[t[c]].sum()
            else:
                loss = loss + per.mean()
        else:
            loss = loss + F.cross_entropy(out[c], t[c], weight=w)
    return loss


def inverse_frequency_weights(grades, eps: float = 1.0) -> dict[str, torch.Tensor]:
    """Per condition, weights ∝ 1 / count of each grade (mean 1 over the grades present;
    an absent grade gets weight 0)."""
    import numpy as np

    grades = np.asarray(grades)
    out = {}
    for k, c in enumerate(CONDITIONS):
        n = np.bincount(grades[:, k], minlength=GRADES).astype(np.float64)
        w = np.where(n > 0, 1.0 / np.maximum(n, eps), 0.0)
        w = w / w[n > 0].mean()
        out[c] = torch.tensor(w, dtype=torch.float32)
    return out


@torch.no_grad()
def predict_proba(model: FourHeadNet, x: torch.Tensor, batch: int = 32) -> dict[str, "np.ndarray"]:
    """Probabilities for ``x: (N, 3, S, S)``: presence (N, 3) sigmoid; each severity (N, 4)
    softmax - each activation applied once, here, never inside the loss."""
    import numpy as np

    model.eval()
    parts: dict[str, list] = {k: [] for k in ("presence", *CONDITIONS)}
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        parts["presence"].append(torch.sigmoid(out["presence"]).numpy())
        for c in CONDITIONS:
            parts[c].append(torch.softmax(out[c], dim=1).numpy())
    return {k: np.concatenate(v) if v else np.zeros((0, 3 if k == "presence" else GRADES))
            for k, v in parts.items()}
