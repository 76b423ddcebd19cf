"""Training of the four-head classifier: AdamW, cosine warm restarts stepped per iteration,
seeded, resumable, best-by-validation macro-F1 kept.

The reference steps ``CosineAnnealingWarmRestarts`` once per epoch with T_0 = half the batches
per epoch, so its learning rate never decays (reference-method.md §8.4); here the scheduler is
stepped every iteration with a period of ``restart_epochs`` epochs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from scalpvision.classification.data import Normalisation, augmix, gaussian_noise
from scalpvision.classification.metrics import evaluate
from scalpvision.classification.model import (
    FourHeadNet, build_classifier, four_head_loss, inverse_frequency_weights, predict_proba,
)
from scalpvision.classification.params import ClassifierModelParams, ClassifierTrainParams

log = logging.getLogger(__name__)


def _state(model, opt, sched, epoch, best, history, rng_state) -> dict:
    return {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
            "epoch": epoch, "best": best, "history": history, "rng": rng_state}


def train_classifier(images: np.ndarray, pads: np.ndarray, grades: np.ndarray,
                     val: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                     mp: ClassifierModelParams, tp: ClassifierTrainParams, *,
                     norm: Normalisation, gate: float, resume_file: Path | None = None,
                     on_epoch=None, progress: bool = True, model: FourHeadNet | None = None,
                     replica=None) -> tuple[FourHeadNet, dict]:
    """Train on ``images: (N, S, S, 3) uint8`` letterboxed squares with ``pads`` and
    ``grades: (N, 3)``; validate every epoch on ``val = (images, pads, grades, groups)``.

    Returns the best-by-validation-macro-F1 model and a record (history, best epoch, init).
    With ``resume_file`` the state after every epoch is saved there and an existing file is
    resumed from: an interrupted run continues to the same weights as an uninterrupted one.
    ``model``: a four-head network built elsewhere (e.g. the guidance encoder's ViT) trained
    with this same recipe instead of ``mp``'s. ``replica``: this process's place under
    torchrun (:mod:`scalpvision.ops.distributed`): every rank draws the same batches and
    augmentations and trains on its slice; validation, ``on_epoch`` and the resume file are
    rank 0's."""
    from tqdm import tqdm

    from scalpvision.ops.distributed import SINGLE

    rep = replica or SINGLE

    torch.manual_seed(tp.seed)
    model, init = build_classifier(mp) if model is None else (model, "random (given network)")
    net = rep.wrap(model)
    opt = torch.optim.AdamW(model.parameters(), lr=tp.lr, weight_decay=tp.weight_decay)
    iters = int(np.ceil(len(images) / tp.batch_size))
    t0_iters = max(1, round(tp.restart_epochs * iters))
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=t0_iters, T_mult=tp.t_mult, eta_min=tp.eta_min)
    weights = inverse_frequency_weights(grades) if tp.imbalance == "weighted" else None
    gamma = tp.focal_gamma if tp.imbalance == "focal" else 0.0
    counts = {f"{c}_{g}": int(np.sum(grades[:, k] == g))
              for k, c in enumerate(("dandruff", "sebum", "erythema")) for g in range(4)}
    rng = np.random.default_rng(tp.seed)
    gen = torch.Generator().manual_seed(tp.seed)
    start, best, history, best_state = 0, -1.0, [], None
    if resume_file is not None and Path(resume_file).is_file():
        st = torch.load(resume_file, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        start, best, history = st["epoch"] + 1, st["best"], st["history"]
        rng.bit_generator.state, gen_state, best_state = st["rng"]
        gen.set_state(gen_state)
        log.info("resumed from %s after epoch %d", resume_file, st["epoch"])
    y = torch.from_numpy(grades.astype(np.int64))
    xv = norm.apply(val[0], val[1])
    for ep in range(start, tp.epochs):
        model.train()
        t0, total = time.perf_counter(), 0.0
        order = rng.permutation(len(images))
        bar = tqdm(range(iters), desc=f"classifier epoch {ep + 1}/{tp.epochs}",
                   disable=not (progress and rep.main), leave=False)
        for i in bar:
            idx = order[i * tp.batch_size:(i + 1) * tp.batch_size]
            batch = images[idx]
            if tp.variant == "augmix":
                batch = augmix(batch, int(rng.integers(2**31)))
            xb = norm.apply(batch, pads[idx])
            if tp.variant == "gaussian":
                xb = gaussian_noise(xb, tp.noise_std, norm, gen)
            if rng.uniform() < 0.5:  # flips: a scalp has no up or left
                xb = xb.flip(3)
            if rng.uniform() < 0.5:
                xb = xb.flip(2)
            if rep.distributed and len(idx) < 2 * rep.world:  # a last batch too small to
                continue  # give every rank two images (BatchNorm needs two): all ranks skip it
            mine = torch.from_numpy(rep.part(np.arange(len(idx))))  # this rank's slice
            loss = rep.scaled(four_head_loss(net(xb[mine]), y[idx][mine], class_weights=weights,
                                             focal_gamma=gamma), len(mine), len(idx))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()  # per iteration
            total += loss.item() * len(idx)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if not rep.main:
            continue
        proba = predict_proba(model, xv)
        r = evaluate(val[2], proba, val[3], gate=gate, n_boot=0)
        rec = {"epoch": ep + 1, "loss": total / len(images), "lr": opt.param_groups[0]["lr"],
               "val_macro_f1": r["macro_f1"], "val_macro_f1_ungated": r["macro_f1_ungated"],
               "seconds": time.perf_counter() - t0,
               "images_per_second": len(images) / (time.perf_counter() - t0)}
        history.append(rec)
        log.info("classifier %s", rec)
        if rec["val_macro_f1"] > best:
            best = rec["val_macro_f1"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if on_epoch:
            on_epoch(ep, rec)
        if resume_file is not None:
            torch.save(_state(model, opt, sched, ep, best, history,
                              (rng.bit_generator.state, gen.get_state(), best_state)),
                       resume_file)
    if best_state is not None:
        model.load_state_dict(best_state)
    best_epoch = int(np.argmax([h["val_macro_f1"] for h in history])) + 1 if history else 0
    return model.eval(), {"history": history, "best_epoch": best_epoch, "init": init,
                          "class_counts": counts, "model": asdict(mp), "train": asdict(tp)}
