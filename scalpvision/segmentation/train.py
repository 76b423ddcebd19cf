"""U²-Net training on pseudo pairs (reference-method.md §3): seven-output BCE, Adam 1e-3,
optional rescale (paper 320) + random crop (paper 288) with flips; validation every epoch.

Differences from the reference: a validation step exists (pseudo val pairs and real-layout
images with ground truth), the best checkpoint is kept by validation Dice, preprocessing is one
normalisation (/255 then ImageNet mean/std) shared by training and inference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import cv2
import numpy as np
import torch

from scalpvision.errors import BadInputError
from scalpvision.io import read_image, read_mask
from scalpvision.segmentation.inference import infer_size, predict_prob, to_tensor
from scalpvision.segmentation.metrics import segmentation_scores
from scalpvision.segmentation.params import U2NetTrainParams
from scalpvision.segmentation.runtime import OnnxU2Net, inference_model
from scalpvision.segmentation.u2net import U2Net, build_u2net, multi_bce_loss

log = logging.getLogger(__name__)
def photometric_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Image-only appearance jitter of one (H, W, 3) uint8 RGB crop, so the segmenter learns
    hair *shape* rather than the colours and lighting of its pseudo pairs: a hue rotation,
    contrast / brightness / gamma, a smooth illumination field (vignetting, uneven light),
    defocus and sensor noise. The mask is untouched: none of these moves a hair."""
    out = img
    if rng.uniform() < 0.5:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(rng.integers(-25, 26))) % 180
                       ).astype(np.uint8)
        sat = hsv[..., 1].astype(np.float32) * rng.uniform(0.6, 1.4)
        hsv[..., 1] = np.clip(sat, 0, 255).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    x = out.astype(np.float32) / 255
    mean = x.mean((0, 1), keepdims=True)
    x = (x - mean) * rng.uniform(0.6, 1.25) + mean + rng.uniform(-0.1, 0.1)
    x = np.clip(x, 0, 1) ** rng.uniform(0.7, 1.4)
    if rng.uniform() < 0.5:  # multiplicative light field: radial fall-off from a random centre
        h, w = x.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cy, cx = rng.uniform(-0.5, 1.5) * h, rng.uniform(-0.5, 1.5) * w
        r2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / float(max(h, w) ** 2)
        x = x * (1 - rng.uniform(0, 0.5) * np.clip(r2, 0, 1))[..., None]
    if rng.uniform() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.5))
    if rng.uniform() < 0.3:
        x = x + rng.normal(0, rng.uniform(0.005, 0.03), x.shape).astype(np.float32)
    return np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)


def _sample(img: np.ndarray, mask: np.ndarray, cfg: U2NetTrainParams, rng: np.random.Generator,
            weight: np.ndarray | None = None):
    """One training crop ``(image, mask, weight)``; ``weight`` is all ones unless given."""
    if weight is None:
        weight = np.ones(mask.shape, np.float32)
    if cfg.rescale:
        weight = cv2.resize(weight, (cfg.rescale, cfg.rescale), interpolation=cv2.INTER_NEAREST)
        img = cv2.resize(img, (cfg.rescale, cfg.rescale), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), (cfg.rescale, cfg.rescale),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
    h, w = mask.shape
    c = min(cfg.crop, h, w)
    ys, xs = (np.nonzero(mask) if cfg.hair_crop_share > 0 else ((), ()))
    if len(ys) and rng.uniform() < cfg.hair_crop_share:  # centre the crop on a hair pixel
        k = int(rng.integers(len(ys)))
        y = int(np.clip(ys[k] - c // 2 + rng.integers(-c // 4, c // 4 + 1), 0, h - c))
        x = int(np.clip(xs[k] - c // 2 + rng.integers(-c // 4, c // 4 + 1), 0, w - c))
    else:
        y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
    img, mask, weight = img[y:y + c, x:x + c], mask[y:y + c, x:x + c], weight[y:y + c, x:x + c]
    if rng.uniform() < 0.5:
        img, mask, weight = img[::-1], mask[::-1], weight[::-1]
    if rng.uniform() < 0.5:
        img, mask, weight = img[:, ::-1], mask[:, ::-1], weight[:, ::-1]
    if cfg.photometric > 0 and rng.uniform() < cfg.photometric:
        img = photometric_jitter(np.ascontiguousarray(img), rng)
    return img, mask, weight


@torch.no_grad()
def recalibrate_bn(model: U2Net, images: list[np.ndarray], long_side: int) -> None:
    """Precise BatchNorm (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021): recompute
    every BN layer's running mean/variance as the plain average over full-size ``images`` at the
    inference resolution. Training on small crops leaves the deep, low-resolution stages with
    statistics of 4x4 maps that do not hold for whole 640x480 images."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not bns or not images:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    dev = next(model.parameters()).device
    for img in images:
        size, _ = infer_size(*img.shape[:2], long_side)
        model(to_tensor(cv2.resize(img, size, interpolation=cv2.INTER_AREA)).to(dev))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def evaluate(model: U2Net | OnnxU2Net, pairs: list[tuple[str, str]], long_side: int,
             threshold: float = 0.5) -> float:
    """Mean Dice of the binarised U²-Net output on (image path, mask path) pairs."""
    if not pairs:
        return float("nan")
    scores = [segmentation_scores(predict_prob(model, read_image(i), long_side) > threshold,
                                  read_mask(m))["dice"] for i, m in pairs]
    return float(np.mean(scores))


def self_label(result, unsure_below: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Self-training target of one unlabelled image from the segmenter's own
    :class:`SegmentationResult`: hair = the refined mask M_AP (prompt-grown, the most precise
    of the three), weight 0 where U²-Net leans to hair (probability >= ``unsure_below``) but the
    refiner did not agree, and on a 1-px band round M_AP (edges are the least sure). Returns
    (mask (H, W) bool, weight (H, W) float32)."""
    hair = result.refined.astype(bool)
    unsure = (result.prob >= unsure_below) & ~hair
    band = cv2.morphologyEx(hair.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    weight = np.where(unsure | (band > 0), 0.0, 1.0).astype(np.float32)
    return hair, weight


def _run_epoch(model, opt, sched, data, cfg: U2NetTrainParams, rng, rep
               ) -> tuple[float, float]:
    """One epoch; ``model`` may be DDP-wrapped: every rank draws the same crops (one shared
    ``rng``) and forwards its slice of each batch (``rep.part``)."""
    model.train()
    dev = next(model.parameters()).device
    losses, fused = [], []
    order = rng.permutation(len(data))
    for b in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size):
        batch = [_sample(data[k][0], data[k][1], cfg, rng, *data[k][2:])
                 for k in order[b:b + cfg.batch_size]]
        x = torch.cat([to_tensor(np.ascontiguousarray(i)) for i, _, _ in batch]).to(dev)
        y = torch.from_numpy(np.stack([m for _, m, _ in batch]).astype(np.float32))[:, None]
        w = torch.from_numpy(np.stack([v for _, _, v in batch]).astype(np.float32))[:, None]
        x, y, w = rep.part(x), rep.part(y), rep.part(w)
        total, d0 = multi_bce_loss(model(x), y.to(x.device), cfg.dice_weight, w.to(x.device))
        total = rep.scaled(total, len(x), cfg.batch_size)
        opt.zero_grad()
        total.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(float(total.detach()))
        fused.append(float(d0.detach()))
    return float(np.mean(losses)), float(np.mean(fused))


def train_u2net(model: U2Net, train_pairs: list[tuple[str, str]],
                val_sets: dict[str, list[tuple[str, str]]], cfg: U2NetTrainParams,
                on_epoch: Callable[[int, dict], None] | None = None,
                select_on: str = "",
                self_labels: Callable[[U2Net], list[tuple]] | None = None,
                replica=None) -> tuple[dict, list[dict]]:
    """Train in place. Returns (best state_dict, per-epoch history). The best epoch is the one
    with the highest Dice on ``val_sets[select_on]`` (default: the first validation set).

    Self-training (``cfg.self_training_epochs`` > 0 and ``self_labels`` given): after the
    pseudo-pair epochs the best model so far labels unlabelled images itself
    (``self_labels(model)`` -> ``[(image, mask, weight), ...]``, see :func:`self_label`), and
    training goes on over those and as many pseudo pairs at ``cfg.self_training_lr``, each
    image visited several times per epoch (an epoch as long as a pseudo-pair epoch). Its
    epochs are validated like the others, so the kept model is the better of before and after.

    ``replica`` (:mod:`scalpvision.ops.distributed`): under torchrun every rank trains on its
    slice of the same batches; validation, precise BN and self-labelling run on rank 0
    (self-labels are then shared), and only rank 0's best state is returned."""
    from scalpvision.ops.distributed import SINGLE

    rep = replica or SINGLE
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model.to(rep.device(cfg.device))
    net = rep.wrap(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    data = [(read_image(i), read_mask(m)) for i, m in train_pairs]
    select_on = select_on or next(iter(val_sets), "")
    steps = cfg.epochs * max(1, len(data) // cfg.batch_size)
    if cfg.lr_schedule not in ("constant", "cosine"):
        raise BadInputError(f"lr_schedule {cfg.lr_schedule!r}; valid: constant, cosine")
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=cfg.lr / 100)
             if cfg.lr_schedule == "cosine" else None)
    best, best_score, history = None, -1.0, []

    def finish_epoch(epoch: int, t0: float, loss: float, fused: float, phase: str) -> None:
        nonlocal best, best_score
        rec = {"epoch": epoch, "loss": loss, "loss_fused": fused, "seconds": time.time() - t0}
        if cfg.bn_recalibration_images:  # drawn on every rank: the ranks' rng stay in step
            pick = rng.choice(len(data), min(cfg.bn_recalibration_images, len(data)), replace=False)
            if rep.main:
                recalibrate_bn(model, [data[k][0] for k in pick], cfg.infer_long_side)
        if not rep.main:
            history.append(rec | {"phase": phase})
            return
        runner = inference_model(model, "auto")  # this epoch's weights, ONNX Runtime on a CPU
        for name, pairs in val_sets.items():
            rec[f"val_dice_{name}"] = evaluate(runner, pairs, cfg.infer_long_side)
        history.append(rec | {"phase": phase})
        score = rec.get(f"val_dice_{select_on}", -rec["loss"])
        if score > best_score:
            best_score = score
            best = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            history[-1]["best"] = True
        log.info("epoch %d (%s) %s", epoch, phase,
                 {k: round(v, 4) if isinstance(v, float) else v for k, v in rec.items()})
        if on_epoch:
            on_epoch(epoch, rec)

    for epoch in range(1, cfg.epochs + 1):
        t0 = time.time()
        finish_epoch(epoch, t0, *_run_epoch(net, opt, sched, data, cfg, rng, rep), "pseudo pairs")
    if cfg.self_training_epochs > 0 and self_labels is not None:
        best = rep.share(best)
        model.load_state_dict(best)
        t0 = time.time()
        extra = rep.share(self_labels(model) if rep.main else None)
        log.info("self-training: %d self-labelled images (%.1f s)", len(extra), time.time() - t0)
        if extra:
            anchor = [data[k] for k in rng.choice(len(data), min(len(extra), len(data)),
                                                  replace=False)]
            # each image gives several crops per epoch, as many steps as a pseudo-pair epoch
            mixed = (list(extra) + anchor) * max(1, len(data) // (2 * len(extra)))
            opt = torch.optim.Adam(model.parameters(), lr=cfg.self_training_lr)
            n = cfg.self_training_epochs * max(1, len(mixed) // cfg.batch_size)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n, eta_min=cfg.lr / 100)
            for k in range(cfg.self_training_epochs):
                t0 = time.time()
                finish_epoch(cfg.epochs + k + 1, t0,
                             *_run_epoch(net, opt, sched, mixed, cfg, rng, rep), "self-training")
    model.to("cpu")
    return best, history


def seeded_u2net(variant: str, seed: int, checkpoint: str | None = None) -> U2Net:
    """``build_u2net`` with its initial weights drawn from ``seed``: the initialisation is part
    of a run (built unseeded, two runs of the same stage on the same pseudo pairs gave models
    0.02 apart in test Dice of M)."""
    torch.manual_seed(seed)
    return build_u2net(variant, checkpoint=checkpoint)


def resolve_device(name: str) -> str:
    """``auto`` -> cuda when available, else cpu; anything else is passed through."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BadInputError(f"device {name!r} requested but no CUDA device is available")
    return name
