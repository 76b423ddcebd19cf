"""What a DiffuseIT-M image costs.

1. **Cost model, paper profile (GPU)**: FLOPs of one ADM U-Net forward, of its backward to the
   input alone (exact mode) and with the reference's needless parameter gradients (every
   ``qkv``/``norm``/``proj`` weight), and of DINO ViT-B/8 at 224 px, counted by
   ``torch.utils.flop_counter`` on the *meta* device (no weights, no time); then per image for
   the reference (258 U-Net forwards + 129 backwards, 830 DINO forwards + 415 backwards,
   reference-method.md §13), exact mode (129 + 129 backwards to the input; 131 DINO forwards +
   129 backwards) and fast mode (``fast_steps`` forwards, no U-Net backward).
2. **This CPU**: seconds per generated image and the counted network evaluations of both modes
   with the configured backbone and encoder (the trained ones when their stage has run, else
   the same architectures with random weights), batch ``augment.batch_size``.

    python benchmarks/augment.py [--pairs 8] [--skip-cpu]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from _report import reported
from scalpvision.config import load_params


def _flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        fn()
    return float(fc.get_total_flops())


def unet_costs(size: int) -> dict[str, float]:
    from scalpvision.augment.adm import paper_config, unet_for

    cfg = paper_config(size)
    unet = unet_for(cfg, device="meta").requires_grad_(False)
    y = torch.zeros(1, dtype=torch.long, device="meta") if cfg.num_classes else None

    def fwd(grad_params=False, backward=False):
        for n, p in unet.named_parameters():
            p.requires_grad_(grad_params and any(k in n for k in ("to_q", "to_k", "to_v",
                                                                   "norm", "to_out")))
        x = torch.zeros(1, 3, size, size, device="meta", requires_grad=backward)
        out = unet(x, torch.zeros(1, device="meta"), class_labels=y).sample
        if backward:
            out.sum().backward()

    f = _flops(fwd)
    return {"forward": f, "backward_input": _flops(lambda: fwd(False, True)) - f,
            "backward_reference": _flops(lambda: fwd(True, True)) - f,
            "parameters": sum(p.numel() for p in unet.parameters())}


def vit_costs(name: str = "vit_base_patch8_224", hw=(224, 224)) -> dict[str, float]:
    import timm

    with torch.device("meta"):
        vit = timm.create_model(name, num_classes=0, dynamic_img_size=True)
    vit.requires_grad_(False)

    def run(backward=False):
        x = torch.zeros(1, 3, *hw, device="meta", requires_grad=backward)
        out = vit.forward_features(x)
        if backward:
            out.sum().backward()

    f = _flops(run)
    return {"forward": f, "backward_input": _flops(lambda: run(True)) - f}


def cost_table(fast_steps: int, steps: int = 129) -> str:
    vit = vit_costs()
    lines = ["| profile | run | U-Net fwd | U-Net bwd | DINO fwd | DINO bwd | PFLOP / image | "
             "vs reference |", "|---|---|---|---|---|---|---|---|"]
    for size in (256, 512):
        u = unet_costs(size)
        runs = {  # (unet fwd, unet bwd, bwd flops key, dino fwd, dino bwd)
            "reference code": (2 * steps, steps, "backward_reference", 830, 415),
            "exact (this)": (steps, steps, "backward_input", steps + 2, steps),
            f"fast, {fast_steps} DDIM steps (this)": (fast_steps, 0, "backward_input",
                                                       fast_steps + 2, fast_steps)}
        ref = None
        for name, (uf, ub, key, df, db) in runs.items():
            total = (uf * u["forward"] + ub * u[key] + df * vit["forward"]
                     + db * vit["backward_input"])
            ref = ref or total
            lines.append(f"| ADM-{size} ({u['parameters'] / 1e6:.1f} M) | {name} | {uf} | {ub} | "
                         f"{df} | {db} | {total / 1e15:.3f} | {total / ref:.3f} |")
    lines.append("")
    lines.append(f"One ADM-256 forward {unet_costs(256)['forward'] / 1e12:.2f} TFLOP; ViT-B/8 at "
                 f"224² forward {vit['forward'] / 1e9:.0f} GFLOP (torch.utils.flop_counter; "
                 "matmuls and convolutions, norms and activations not counted). LPIPS-VGG (129 "
                 "calls in the reference) is left out of every row.")
    return "\n".join(lines) + "\n"


def cpu_table(P, n_pairs: int) -> str:
    from scalpvision.augment.diffusion import Backbone, Schedule, build_trained_unet, load_backbone
    from scalpvision.augment.encoder import GuidanceEncoder, build_scalp_vit, load_encoder
    from scalpvision.augment.sampler import Sampler

    dp, gp, a = P.diffusion, P.guidance, P.augment
    torch.set_num_threads(a.threads)
    try:
        bb, bb_from = load_backbone(dp, dp.out_dir), "trained (models/diffusion)"
    except Exception:  # noqa: BLE001 - the stage has not run: same architecture, random weights
        bb, bb_from = Backbone(build_trained_unet(dp), (dp.height, dp.width), "random"), \
            "random weights (the `diffusion` stage has not run)"
    try:
        enc, enc_from = load_encoder(gp, gp.out_dir), gp.source
    except Exception:  # noqa: BLE001
        vit = build_scalp_vit(gp.train, dp.height, dp.width, with_heads=False)
        enc, enc_from = GuidanceEncoder(vit, dp.height, (0.5,) * 3, (0.25,) * 3, "random"), \
            "random weights"
    sched = Schedule.linear(dp.schedule.timesteps, dp.schedule.beta_start, dp.schedule.beta_end)
    h, w = bb.size
    g = torch.Generator().manual_seed(0)
    src = torch.rand(n_pairs, 3, h, w, generator=g) * 2 - 1
    trg = torch.rand(n_pairs, 3, h, w, generator=g) * 2 - 1
    m = torch.ones(n_pairs, 1, h, w)
    lines = [f"Backbone: {bb_from}, {sum(p.numel() for p in bb.unet.parameters()) / 1e6:.2f} M "
             f"parameters at {w}×{h}; encoder: {enc.name} ({enc_from}); batch {a.batch_size}, "
             f"{n_pairs} images, {torch.get_num_threads()} threads.", "",
             "| mode | s / image | U-Net fwd / image | U-Net bwd / image | encoder fwd / image |",
             "|---|---|---|---|---|"]
    for mode in ("fast", "exact"):
        s = Sampler(bb, enc, sched, replace(a.sampler, mode=mode))
        t0 = time.perf_counter()
        for i in range(0, n_pairs, a.batch_size):
            sl = slice(i, i + a.batch_size)
            s.sample(src[sl], trg[sl], m[sl], "diffuseit_m", g)
        dt = (time.perf_counter() - t0) / n_pairs
        c = s.counters  # counted per image
        lines.append(f"| {mode} | {dt:.2f} | {c.unet_forward / n_pairs:.0f} | "
                     f"{c.unet_backward / n_pairs:.0f} | {c.encoder_forward / n_pairs:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--skip-cpu", action="store_true")
    args = ap.parse_args()
    P = load_params(args.params)
    with reported("augment"):
        print("### DiffuseIT-M cost model, paper profile (FLOPs per generated image)\n")
        print(cost_table(P.augment.sampler.fast_steps))
        if not args.skip_cpu:
            print("### DiffuseIT-M on this CPU (offline default)\n")
            print(cpu_table(P, args.pairs))


if __name__ == "__main__":
    main()
