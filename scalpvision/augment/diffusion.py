"""The diffusion backbone: one interface over three sources, and the noise schedule.

A :class:`Backbone` predicts the noise ε (and, for ADM's learned variance, the interpolation
``v``) of ``x_t: (B, 3, H, W)`` in [-1, 1] at original timesteps ``t: (B,)``:

* ``trained`` (offline default): a small diffusers ``UNet2DModel`` the ``diffusion`` stage
  trains on the train split at a 4:3 frame (only noise levels up to ``train.max_t`` - the
  sampler never starts above it);
* ``diffusers``: any diffusers-format ``UNet2DModel`` directory (``config.json`` + weights);
* ``adm``: an OpenAI guided-diffusion ADM checkpoint (the paper's 256² unconditional or 512²
  class-conditional model), converted to a ``UNet2DModel`` by :mod:`scalpvision.augment.adm`.

The schedule is ADM's: linear β over 1000 steps, respaced the guided-diffusion way
(``round(i·(T-1)/(K-1))``); the respaced process has its own β, ᾱ and posterior.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scalpvision.errors import MissingInputError

log = logging.getLogger(__name__)
SOURCE_FILE = "backbone.json"  # what a model directory holds beside the diffusers files


@dataclass
class Schedule:
    """A (respaced) diffusion process: ``t[i]`` is the original timestep of respaced index i;
    arrays are float64 numpy, length K."""
    t: np.ndarray
    alphas_cumprod: np.ndarray
    betas: np.ndarray

    @classmethod
    def linear(cls, timesteps: int, beta_start: float, beta_end: float) -> "Schedule":
        betas = np.linspace(beta_start, beta_end, timesteps, dtype=np.float64)
        return cls(np.arange(timesteps), np.cumprod(1.0 - betas), betas)

    def respaced(self, k: int) -> "Schedule":
        """Keep ``k`` of the steps, evenly, as guided-diffusion's ``space_timesteps``."""
        n = len(self.t)
        keep = np.array(sorted({int(round(i * (n - 1) / max(k - 1, 1))) for i in range(k)}))
        ac = self.alphas_cumprod[keep]
        prev = np.concatenate([[1.0], ac[:-1]])
        return Schedule(self.t[keep], ac, 1.0 - ac / prev)

    @property
    def alphas_cumprod_prev(self) -> np.ndarray:
        return np.concatenate([[1.0], self.alphas_cumprod[:-1]])

    @property
    def posterior_variance(self) -> np.ndarray:
        return self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)

    @property
    def posterior_log_variance_clipped(self) -> np.ndarray:
        pv = self.posterior_variance
        return np.log(np.concatenate([[pv[1] if len(pv) > 1 else self.betas[0]], pv[1:]]))

    def posterior_mean(self, x0: torch.Tensor, xt: torch.Tensor, i: int) -> torch.Tensor:
        ac, acp, b = self.alphas_cumprod[i], self.alphas_cumprod_prev[i], self.betas[i]
        c1 = b * np.sqrt(acp) / (1.0 - ac)
        c2 = (1.0 - acp) * np.sqrt(1.0 - b) / (1.0 - ac)
        return float(c1) * x0 + float(c2) * xt

    def q_sample(self, x0: torch.Tensor, i: int, noise: torch.Tensor) -> torch.Tensor:
        ac = self.alphas_cumprod[i]
        return float(np.sqrt(ac)) * x0 + float(np.sqrt(1.0 - ac)) * noise

    def x0_from_eps(self, xt: torch.Tensor, i: int, eps: torch.Tensor) -> torch.Tensor:
        ac = self.alphas_cumprod[i]
        return (xt - float(np.sqrt(1.0 - ac)) * eps) / float(np.sqrt(ac))

    def log_variance(self, i: int, v: torch.Tensor | None) -> torch.Tensor | float:
        """Fixed-small log variance, or ADM's learned interpolation ``v`` in [-1, 1]."""
        lo = float(self.posterior_log_variance_clipped[i])
        if v is None:
            return lo
        hi = float(np.log(self.betas[i]))
        frac = (v + 1) / 2
        return frac * hi + (1 - frac) * lo


class Backbone:
    """``model(x_t, t) -> (eps, v or None)``; ``size`` = (H, W) it generates at."""

    def __init__(self, unet: torch.nn.Module, size: tuple[int, int], source: str,
                 class_label: int | None = None, num_classes: int = 0):
        self.unet = unet.eval().requires_grad_(False)
        self.size, self.source = size, source
        self.class_label, self.num_classes = class_label, num_classes
        self.forwards = 0  # network evaluations, counted for the cost report

    @property
    def learned_sigma(self) -> bool:
        return self.unet.config.out_channels == 6

    def __call__(self, x: torch.Tensor, t: torch.Tensor,
                 generator: torch.Generator | None = None):
        self.forwards += 1
        kw = {}
        if self.num_classes:
            if self.class_label is None or self.class_label < 0:  # the reference: a new class per step
                y = torch.randint(0, self.num_classes, (len(x),), generator=generator)
            else:
                y = torch.full((len(x),), self.class_label, dtype=torch.long)
            kw["class_labels"] = y
        out = self.unet(x, t.to(x.dtype), **kw).sample
        if out.shape[1] == 6:
            return out[:, :3], out[:, 3:]
        return out, None


def build_trained_unet(dp) -> torch.nn.Module:
    """The offline default's architecture (``diffusion.channels`` levels, ResNet blocks,
    attention at the lowest level when ``attention_lowest``)."""
    from diffusers import UNet2DModel

    n = len(dp.channels)
    down = ["DownBlock2D"] * n
    up = ["UpBlock2D"] * n
    if dp.attention_lowest:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(sample_size=(dp.height, dp.width), in_channels=3, out_channels=3,
                       block_out_channels=tuple(dp.channels), layers_per_block=dp.layers_per_block,
                       down_block_types=tuple(down), up_block_types=tuple(up),
                       norm_num_groups=min(8, dp.channels[0]),
                       attention_head_dim=min(32, dp.channels[-1]))


def save_backbone_dir(out: Path, unet, record: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    unet.save_pretrained(out)
    (out / SOURCE_FILE).write_text(json.dumps(record, indent=1, default=str))


def load_backbone(dp, model_dir: str | Path | None = None) -> Backbone:
    """The backbone ``diffusion.source`` names; ``model_dir`` (the stage's output) holds the
    trained one or the record that points at a local file."""
    from diffusers import UNet2DModel

    if dp.source == "adm":
        from scalpvision.augment.adm import load_adm_checkpoint

        unet = load_adm_checkpoint(dp.path, dp.adm_size)
        return Backbone(unet, (dp.adm_size, dp.adm_size), f"adm {dp.path}",
                        class_label=dp.adm_class, num_classes=1000 if dp.adm_size == 512 else 0)
    path = Path(dp.path if dp.source == "diffusers" else model_dir or dp.out_dir)
    if not (path / "config.json").is_file():
        raise MissingInputError(f"{path}: no diffusers U-Net here (no config.json); "
                                + ("run the `diffusion` stage" if dp.source == "trained"
                                   else "diffusion.path must be a diffusers UNet2DModel directory"))
    unet = UNet2DModel.from_pretrained(path)
    s = unet.config.sample_size
    size = (s, s) if isinstance(s, int) else tuple(s)
    return Backbone(unet, size, f"{dp.source} {path}",
                    num_classes=unet.config.num_class_embeds or 0)


def frames_at(paths, size: tuple[int, int]) -> np.ndarray:
    """``(N, H, W, 3) uint8`` frames at the backbone's ``size = (H, W)`` (area resize; a square
    model gets the frame squashed, as the paper's 512² model did)."""
    import cv2

    from scalpvision.io import read_image

    h, w = size
    return np.stack([cv2.resize(read_image(p), (w, h), interpolation=cv2.INTER_AREA)
                     for p in paths]) if len(paths) else np.zeros((0, h, w, 3), np.uint8)


def to_model(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float()
    return x / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3)."""
    y = ((x.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 1).numpy()


def _crops(full: np.ndarray, size: tuple[int, int], scale_min: float,
           rng: np.random.Generator) -> np.ndarray:
    """Random crops (``scale_min``..1 of each side, aspect kept) resized to ``size``, random
    flips: the only augmentations a scalp frame fairly allows."""
    import cv2

    n, H, W = full.shape[:3]
    h, w = size
    out = np.empty((n, h, w, 3), np.uint8)
    for k in range(n):
        s = rng.uniform(scale_min, 1.0)
        ch, cw = max(h, int(H * s)), max(w, int(W * s))
        y0, x0 = rng.integers(0, H - ch + 1), rng.integers(0, W - cw + 1)
        im = cv2.resize(full[k, y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
        if rng.uniform() < 0.5:
            im = im[:, ::-1]
        if rng.uniform() < 0.5:
            im = im[::-1]
        out[k] = im
    return out


def train_unet(frames: np.ndarray, val_frames: np.ndarray, dp, on_epoch=None,
               replica=None) -> tuple:
    """Train the offline default on ``frames: (N, H', W', 3) uint8`` (kept at twice the model
    size so crops stay sharp); ε-prediction MSE at uniform t in [0, max_t]. Returns (unet,
    record with the per-epoch loss and the validation denoising MSE). ``replica``: this
    process's place under torchrun (:mod:`scalpvision.ops.distributed`); every rank draws the
    same batches and trains on its slice; validation runs on rank 0 only."""
    import time

    from tqdm import tqdm

    from scalpvision.ops.distributed import SINGLE

    rep = replica or SINGLE

    tp = dp.train
    torch.manual_seed(tp.seed)
    rng = np.random.default_rng(tp.seed)
    unet = build_trained_unet(dp)
    net = rep.wrap(unet)
    sched = Schedule.linear(dp.schedule.timesteps, dp.schedule.beta_start, dp.schedule.beta_end)
    ac = torch.tensor(sched.alphas_cumprod, dtype=torch.float32)
    opt = torch.optim.AdamW(unet.parameters(), lr=tp.lr, weight_decay=0.0)
    iters = int(np.ceil(len(frames) / tp.batch_size))
    lr_sched = torch.optim.lr_scheduler.OneCycleLR(opt, tp.lr, total_steps=max(1, iters * tp.epochs),
                                                   pct_start=0.1)
    size = (dp.height, dp.width)
    history = []
    for ep in range(tp.epochs):
        unet.train()
        t0, total = time.perf_counter(), 0.0
        order = rng.permutation(len(frames))
        for i in tqdm(range(iters), desc=f"diffusion U-Net epoch {ep + 1}/{tp.epochs}",
                      leave=False, disable=not rep.main):
            idx = order[i * tp.batch_size:(i + 1) * tp.batch_size]
            x0 = to_model(_crops(frames[idx], size, tp.crop_scale_min, rng))
            t = torch.randint(0, tp.max_t + 1, (len(idx),))
            eps = torch.randn_like(x0)
            a = ac[t].view(-1, 1, 1, 1)
            xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
            xt, t, eps_r = rep.part(xt), rep.part(t), rep.part(eps)
            loss = rep.scaled(torch.nn.functional.mse_loss(net(xt, t).sample, eps_r),
                              len(t), len(idx))
            opt.zero_grad()
            loss.backward()
            opt.step()
            lr_sched.step()
            total += loss.item() * len(idx)
        rec = {"epoch": ep + 1, "loss": total / len(frames),
               "seconds": time.perf_counter() - t0}
        history.append(rec)
        log.info("diffusion U-Net %s", rec)
        if on_epoch and rep.main:
            on_epoch(ep, rec)
    unet.eval()
    if not rep.main:
        return unet, {"history": history}
    val = denoising_mse(Backbone(unet, size, "trained"), sched, val_frames, tp.max_t, tp.seed)
    return unet, {"history": history, "val_denoise_mse": val,
                  "parameters": int(sum(p.numel() for p in unet.parameters()))}


@torch.no_grad()
def denoising_mse(backbone: Backbone, sched: Schedule, frames: np.ndarray, max_t: int,
                  seed: int, levels: int = 8, batch: int = 16) -> float:
    """Mean ε-prediction MSE over ``frames`` (resized to the model) at ``levels`` evenly spaced
    t in (0, max_t], fixed seeded noise: the model's held-out score (lower is better)."""
    import cv2

    h, w = backbone.size
    if frames.shape[1:3] != (h, w):
        frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    g = torch.Generator().manual_seed(seed)
    ts = np.linspace(max_t / levels, max_t, levels).round().astype(int)
    total, n = 0.0, 0
    for i in range(0, len(frames), batch):
        x0 = to_model(frames[i:i + batch])
        for t in ts:
            eps = torch.randn(x0.shape, generator=g)
            a = float(sched.alphas_cumprod[t])
            xt = a ** 0.5 * x0 + (1 - a) ** 0.5 * eps
            pred, _ = backbone(xt, torch.full((len(x0),), int(t)))
            total += float(((pred - eps) ** 2).mean()) * len(x0)
            n += len(x0)
    return total / max(n, 1)
