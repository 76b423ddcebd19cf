"""Image-only baseline for alopecia severity (paper Table 4's CNN rows): a timm backbone trained
end to end on the images, on the same split as the feature model. ImageNet weights come only
from a local checkpoint (``checkpoint``); without one the backbone starts from random weights,
which is what runs offline - MLflow records which."""

from __future__ import annotations

import logging
import time
import cv2
import numpy as np
import torch

from scalpvision.alopecia.params import CnnBaselineParams
from scalpvision.errors import MissingInputError
from scalpvision.io import read_image

log = logging.getLogger(__name__)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def build_cnn(p: CnnBaselineParams, num_classes: int = 4) -> tuple[torch.nn.Module, str]:
    """The timm backbone with a ``num_classes`` head; returns (model, init description)."""
    import timm

    if p.checkpoint:
        from pathlib import Path

        if not Path(p.checkpoint).is_file():
            raise MissingInputError(f"alopecia.cnn.checkpoint={p.checkpoint!r}: no such file")
        model = timm.create_model(p.backbone, pretrained=True, num_classes=num_classes,
                                  pretrained_cfg_overlay={"file": p.checkpoint})
        return model, f"local checkpoint {p.checkpoint}"
    return timm.create_model(p.backbone, pretrained=False, num_classes=num_classes), "random"


def load_images(paths, short_side: int) -> torch.Tensor:
    """(N, 3, s, 4s/3) normalised float tensor; images keep their aspect ratio."""
    out = []
    for path in paths:
        im = read_image(path)
        h, w = im.shape[:2]
        size = (int(round(w * short_side / h / 32)) * 32, short_side)
        x = cv2.resize(im, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        out.append(((x - MEAN) / STD).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def train_cnn(x: torch.Tensor, y: np.ndarray, p: CnnBaselineParams, seed: int = 0,
              on_epoch=None) -> tuple[torch.nn.Module, str, list[dict]]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model, init = build_cnn(p)
    counts = np.bincount(y, minlength=4).astype(np.float32)
    weights = (counts.sum() / np.maximum(counts, 1) / 4) if p.class_weighted else np.ones(4)
    weights = np.where(counts > 0, weights, 0).astype(np.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weights))
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=1e-4)
    steps = p.epochs * int(np.ceil(len(y) / p.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=p.lr, total_steps=max(steps, 1))
    yt = torch.from_numpy(y.astype(np.int64))
    history = []
    for ep in range(p.epochs):
        model.train()
        t0, total = time.perf_counter(), 0.0
        order = rng.permutation(len(y))
        for i in range(0, len(y), p.batch_size):
            idx = torch.from_numpy(order[i:i + p.batch_size])
            xb = x[idx]
            if rng.uniform() < 0.5:
                xb = xb.flip(3)
            if rng.uniform() < 0.5:
                xb = xb.flip(2)
            loss = loss_fn(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        rec = {"epoch": ep, "loss": total / len(y), "seconds": time.perf_counter() - t0}
        history.append(rec)
        log.info("cnn epoch %d loss %.4f (%.1f s)", ep, rec["loss"], rec["seconds"])
        if on_epoch:
            on_epoch(ep, rec)
    return model.eval(), init, history


@torch.no_grad()
def predict_cnn(model: torch.nn.Module, x: torch.Tensor, batch: int = 32) -> np.ndarray:
    model.eval()
    return np.concatenate([model(x[i:i + batch]).argmax(1).numpy()
                           for i in range(0, len(x), batch)])
