"""The DiffuseIT-M sampler (paper §3.3, eqs. 8-16) in two modes, batched and seeded.

Both start from the source noised to the start level (respaced index ``respacing − skip − 1``)
and, after every step, blend the kept region back from the source noised to the current level
(eq. 15: ``x ← m⊙x + (1−m)⊙q(x_s, t)``). The result is ``(1−m)⊙x_s + m⊙x̂0`` of the last step.

* **exact** - the paper's mathematics (guided-diffusion's ``condition_mean``:
  ``μ' = μ − Σ·∇_{x_t}L``, then ``x_{t−1} = μ' + σz``) with the waste removed: one U-Net forward
  per step serves both the gradient and the posterior mean (the reference runs it twice),
  the source and target features are computed once per batch, and one encoder forward per
  step serves every ViT term (the previous step's CLS is kept, not recomputed). The gradient
  flows to ``x_t`` only - no parameter gradients. ``tests`` check it against a literal
  implementation.
* **fast** - a documented deviation (manifold-preserving guidance, MPGD, He et al. 2024): the
  U-Net runs without gradient, the loss gradient is taken with respect to x̂0 only and applied
  as a step normalised by its RMS, and DDIM jumps ``fast_steps`` times from the start level.

Methods: ``diffuseit_m`` (the paper), ``diffuseit`` (no mask terms, no blending, no
composite) and ``sdedit`` (no guidance: noise, denoise, blend).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from scalpvision.augment.diffusion import Backbone, Schedule
from scalpvision.augment.losses import Targets, guidance_loss


@dataclass
class Counters:
    """Network evaluations of one run, counted per image (a batch of B forwards counts B)."""
    unet_forward: int = 0
    unet_backward: int = 0
    encoder_forward: int = 0
    encoder_backward: int = 0
    restarts: int = 0
    steps: int = 0
    history: list = field(default_factory=list)


def method_weights(method: str, w):
    """The loss weights a method uses: ``sdedit`` none, ``diffuseit`` no mask term."""
    from dataclasses import replace

    if method == "sdedit":
        return replace(w, style=0.0, mse=0.0, ssim=0.0, contra=0.0, sem=0.0, range=0.0, mask=0.0)
    if method == "diffuseit":
        return replace(w, mask=0.0)
    return w


def uses_mask(method: str) -> bool:
    return method != "diffuseit"


def _guided(w) -> bool:
    return any(getattr(w, k) for k in ("style", "mse", "ssim", "contra", "sem", "range", "mask"))


class Sampler:
    """Loaded once per run: ``sample(src, trg, m, method, generator) -> (B, 3, H, W)`` in
    [-1, 1]. ``m: (B, 1, H, W)`` is the editable region (1 = change, 0 = keep)."""

    def __init__(self, backbone: Backbone, encoder, schedule: Schedule, sp, lpips=None):
        self.net, self.enc, self.sp, self.lpips = backbone, encoder, sp, lpips
        self.base = schedule
        self.sched = schedule.respaced(sp.respacing)
        self.start = sp.respacing - sp.skip - 1
        self.counters = Counters()

    # -- helpers ------------------------------------------------------------------------
    def _t(self, i: int, b: int) -> torch.Tensor:
        return torch.full((b,), int(self.sched.t[i]), dtype=torch.long)

    def targets(self, src, trg, m) -> Targets:
        with torch.no_grad():
            sk, sc = self.enc((src + 1) / 2)
            _, tc = self.enc((trg + 1) / 2)
        self.counters.encoder_forward += 2 * len(src)
        return Targets(src, trg, m, sk, sc, tc)

    def _loss(self, x_in, x0, tg, prev_cls, i, w):
        feats = self.enc((x_in + 1) / 2)
        self.counters.encoder_forward += len(x_in)
        self.counters.encoder_backward += len(x_in)
        prev = prev_cls if i > self.sp.sem_until else None
        return guidance_loss(x_in, x0, tg, feats, prev, w, self.sp.contra_tau, self.lpips), \
            feats[1].detach()

    def sample(self, src: torch.Tensor, trg: torch.Tensor, m: torch.Tensor, method: str,
               generator: torch.Generator) -> torch.Tensor:
        w = method_weights(method, self.sp.weights)
        if not uses_mask(method):
            m = torch.ones_like(m)
        tg = self.targets(src, trg, m) if _guided(w) else Targets(src, trg, m, None, None, None)
        if self.sp.mode == "fast":
            x0 = self._fast(tg, w, generator)
        else:
            x0 = self._exact(tg, w, generator)
        return (1 - m) * src + m * x0.clamp(-1, 1)

    # -- exact ----------------------------------------------------------------------------
    def _exact(self, tg: Targets, w, gen: torch.Generator) -> torch.Tensor:
        s, sp, c = self.sched, self.sp, self.counters
        guided = _guided(w)
        blend = bool((tg.m < 1).any())
        for attempt in range(sp.max_restarts + 1):
            x = s.q_sample(tg.src, self.start, torch.randn(tg.src.shape, generator=gen))
            prev_cls = tg.src_cls
            restart = False
            for i in range(self.start, -1, -1):
                reps = sp.first_step_repeats if i == self.start else 1
                for r in range(reps):
                    xt = x.detach().requires_grad_(guided)
                    with torch.set_grad_enabled(guided):
                        eps, v = self.net(xt, self._t(i, len(xt)), gen)
                        x0 = s.x0_from_eps(xt, i, eps)
                    c.unet_forward += len(xt)
                    mean = s.posterior_mean(x0.detach().clamp(-1, 1), xt.detach(), i)
                    logvar = s.log_variance(i, None if v is None else v.detach())
                    var = torch.exp(torch.as_tensor(logvar))
                    if guided:
                        a = float(np.sqrt(1.0 - s.alphas_cumprod[i]))
                        x_in = a * x0 + (1 - a) * xt if sp.noise_aug else x0
                        (loss, parts), cls = self._loss(x_in, x0, tg, prev_cls, i, w)
                        (g,) = torch.autograd.grad(loss, xt)
                        c.unet_backward += len(xt)
                        mean = mean - var * g
                        prev_cls = cls
                        raw_range = ((x0.detach() - x0.detach().clamp(-1, 1)) ** 2
                                     ).flatten(1).mean(1)
                        c.history.append({k: float(v_.detach().sum()) for k, v_ in parts.items()})
                    noise = torch.randn(xt.shape, generator=gen)
                    x = mean + (torch.exp(0.5 * torch.as_tensor(logvar)) * noise if i > 0 else 0)
                    x = x.detach()
                    c.steps += 1
                    if blend:
                        x = tg.m * x + (1 - tg.m) * s.q_sample(
                            tg.src, i, torch.randn(xt.shape, generator=gen))
                    if r < reps - 1:  # RePaint-style: back to level i, then step again
                        b = float(s.betas[i])
                        x = np.sqrt(1 - b) * x + np.sqrt(b) * torch.randn(x.shape, generator=gen)
                last = x0.detach()
                if (guided and w.range and i < self.start and attempt < sp.max_restarts
                        and float(raw_range.max()) > sp.range_threshold):
                    c.restarts += 1
                    restart = True
                    break
            if not restart:
                return last
        return last

    # -- fast -----------------------------------------------------------------------------
    def _fast(self, tg: Targets, w, gen: torch.Generator) -> torch.Tensor:
        s, sp, c = self.sched, self.sp, self.counters
        guided = _guided(w)
        blend = bool((tg.m < 1).any())
        idx = np.unique(np.round(np.linspace(self.start, 0, sp.fast_steps)).astype(int))[::-1]
        x = s.q_sample(tg.src, self.start, torch.randn(tg.src.shape, generator=gen))
        prev_cls = tg.src_cls
        ac = s.alphas_cumprod
        for n, i in enumerate(idx):
            with torch.no_grad():
                eps, _ = self.net(x, self._t(i, len(x)), gen)
            c.unet_forward += len(x)
            x0 = s.x0_from_eps(x, i, eps)
            if guided:
                x0 = x0.detach().requires_grad_(True)
                (loss, parts), cls = self._loss(x0, x0, tg, prev_cls, i, w)
                (g,) = torch.autograd.grad(loss, x0)
                rms = g.flatten(1).pow(2).mean(1).sqrt().clamp_min(1e-12).view(-1, 1, 1, 1)
                x0 = (x0 - sp.fast_step_size * float(np.sqrt(1 - ac[i])) * g / rms).detach()
                prev_cls = cls
                c.history.append({k: float(v_.detach().sum()) for k, v_ in parts.items()})
            x0 = x0.clamp(-1, 1)
            c.steps += 1
            if n == len(idx) - 1:
                return x0
            j = idx[n + 1]
            e = (x - float(np.sqrt(ac[i])) * x0) / float(np.sqrt(1 - ac[i]))
            sigma = sp.fast_eta * float(np.sqrt((1 - ac[j]) / (1 - ac[i]) * (1 - ac[i] / ac[j])))
            x = (float(np.sqrt(ac[j])) * x0 + float(np.sqrt(max(1 - ac[j] - sigma ** 2, 0.0))) * e
                 + sigma * torch.randn(x.shape, generator=gen))
            if blend:
                x = tg.m * x + (1 - tg.m) * s.q_sample(tg.src, j, torch.randn(x.shape,
                                                                                generator=gen))
        return x0
