"""OpenAI guided-diffusion ADM checkpoints (the paper's backbone) as diffusers ``UNet2DModel``s.

diffusers has no official ADM converter (huggingface/diffusers#1197; PR #6730 unmerged), so
this is one. A stock ``UNet2DModel`` holds ADM exactly: ``ResnetDownsampleBlock2D`` /
``AttnDownBlock2D`` with ResNet up/down-sampling, scale-shift time conditioning, sinusoidal
embedding cos-first (``flip_sin_to_cos``, no frequency shift), six output channels for the
learned variance and a 1000-class embedding for the 512² model. Two details matter:

* ADM's attention packs ``qkv`` in the *legacy* order - per head [q; k; v] - so the 1×1-conv
  weight ``(3C, C)`` is viewed as ``(heads, 3, head_dim, C)`` before it is split; a plain
  ``chunk(3)`` scrambles the heads;
* the middle block's attention keeps its group norm (``attn_norm_num_groups``), which diffusers
  drops by default under scale-shift.

``tests/model/test_adm.py`` checks the conversion against an independent ADM implementation
written from the architecture, on tiny random weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from scalpvision.errors import MissingInputError


@dataclass(frozen=True)
class AdmConfig:
    image_size: int
    model_channels: int
    num_res_blocks: int
    channel_mult: tuple[int, ...]
    attention_ds: tuple[int, ...]  # downsampling factors with attention (image_size // resolution)
    num_head_channels: int
    learn_sigma: bool
    num_classes: int  # 0 = unconditional

    @property
    def out_channels(self) -> int:
        return 6 if self.learn_sigma else 3


def paper_config(size: int) -> AdmConfig:
    """The guided-diffusion ImageNet models (reference-method.md §9.1): 256² unconditional,
    512² class-conditional; attention at resolutions 32, 16, 8; 256 channels, 64 per head."""
    mult = (1, 1, 2, 2, 4, 4) if size == 256 else (0.5, 1, 1, 2, 2, 4, 4)
    return AdmConfig(size, 256, 2, mult, tuple(size // r for r in (32, 16, 8)), 64, True,
                     1000 if size == 512 else 0)


def unet_for(cfg: AdmConfig, device: str | torch.device = "cpu"):
    from diffusers import UNet2DModel

    chans = tuple(int(cfg.model_channels * m) for m in cfg.channel_mult)
    levels = range(len(chans))
    attn = [2 ** lv in cfg.attention_ds for lv in levels]
    down = tuple("AttnDownBlock2D" if a else "ResnetDownsampleBlock2D" for a in attn)
    up = tuple("AttnUpBlock2D" if a else "ResnetUpsampleBlock2D" for a in reversed(attn))
    with torch.device(device):
        return UNet2DModel(
            sample_size=cfg.image_size, in_channels=3, out_channels=cfg.out_channels,
            block_out_channels=chans, layers_per_block=cfg.num_res_blocks,
            down_block_types=down, up_block_types=up, downsample_type="resnet",
            upsample_type="resnet", resnet_time_scale_shift="scale_shift",
            attention_head_dim=cfg.num_head_channels, norm_num_groups=32, norm_eps=1e-5,
            attn_norm_num_groups=32, flip_sin_to_cos=True, freq_shift=0,
            num_class_embeds=cfg.num_classes or None, dropout=0.0)


def _res(adm: str, dif: str) -> dict[str, str]:
    return {f"{adm}.in_layers.0": f"{dif}.norm1", f"{adm}.in_layers.2": f"{dif}.conv1",
            f"{adm}.emb_layers.1": f"{dif}.time_emb_proj", f"{adm}.out_layers.0": f"{dif}.norm2",
            f"{adm}.out_layers.3": f"{dif}.conv2", f"{adm}.skip_connection": f"{dif}.conv_shortcut"}


def module_map(cfg: AdmConfig) -> tuple[dict[str, str], dict[str, str]]:
    """(ADM module -> diffusers module for plain tensors, ADM attention -> diffusers attention)."""
    plain = {"time_embed.0": "time_embedding.linear_1", "time_embed.2": "time_embedding.linear_2",
             "label_emb": "class_embedding", "input_blocks.0.0": "conv_in",
             "out.0": "conv_norm_out", "out.2": "conv_out"}
    attn: dict[str, str] = {}
    n, L = cfg.num_res_blocks, len(cfg.channel_mult)
    k = 1
    for lv in range(L):
        has_attn = 2 ** lv in cfg.attention_ds
        for j in range(n):
            plain.update(_res(f"input_blocks.{k}.0", f"down_blocks.{lv}.resnets.{j}"))
            if has_attn:
                attn[f"input_blocks.{k}.1"] = f"down_blocks.{lv}.attentions.{j}"
            k += 1
        if lv != L - 1:
            plain.update(_res(f"input_blocks.{k}.0", f"down_blocks.{lv}.downsamplers.0"))
            k += 1
    plain.update(_res("middle_block.0", "mid_block.resnets.0"))
    plain.update(_res("middle_block.2", "mid_block.resnets.1"))
    attn["middle_block.1"] = "mid_block.attentions.0"
    k = 0
    for u, lv in enumerate(reversed(range(L))):
        has_attn = 2 ** lv in cfg.attention_ds
        for i in range(n + 1):
            plain.update(_res(f"output_blocks.{k}.0", f"up_blocks.{u}.resnets.{i}"))
            nxt = 1
            if has_attn:
                attn[f"output_blocks.{k}.1"] = f"up_blocks.{u}.attentions.{i}"
                nxt = 2
            if lv and i == n:
                plain.update(_res(f"output_blocks.{k}.{nxt}", f"up_blocks.{u}.upsamplers.0"))
            k += 1
    return plain, attn


def convert_state_dict(sd: dict[str, torch.Tensor], cfg: AdmConfig) -> dict[str, torch.Tensor]:
    """ADM ``state_dict`` -> ``UNet2DModel`` ``state_dict``; every ADM tensor must be used."""
    plain, attn = module_map(cfg)
    out, used = {}, set()
    for key, v in sd.items():
        mod, _, leaf = key.rpartition(".")
        if mod in plain:
            out[f"{plain[mod]}.{leaf}"] = v
            used.add(key)
    for a, d in attn.items():
        w, b = sd[f"{a}.qkv.weight"][..., 0], sd[f"{a}.qkv.bias"]
        c = w.shape[1]
        heads = c // cfg.num_head_channels
        w = w.reshape(heads, 3, c // heads, c)  # legacy order: per head [q; k; v]
        b = b.reshape(heads, 3, c // heads)
        for j, name in enumerate(("to_q", "to_k", "to_v")):
            out[f"{d}.{name}.weight"] = w[:, j].reshape(c, c)
            out[f"{d}.{name}.bias"] = b[:, j].reshape(c)
        out[f"{d}.to_out.0.weight"] = sd[f"{a}.proj_out.weight"][..., 0]
        out[f"{d}.to_out.0.bias"] = sd[f"{a}.proj_out.bias"]
        out[f"{d}.group_norm.weight"] = sd[f"{a}.norm.weight"]
        out[f"{d}.group_norm.bias"] = sd[f"{a}.norm.bias"]
        used.update(f"{a}.{s}" for s in ("qkv.weight", "qkv.bias", "proj_out.weight",
                                         "proj_out.bias", "norm.weight", "norm.bias"))
    left = sorted(set(sd) - used)
    if left:
        raise ValueError(f"ADM tensors with no place in the converted U-Net: {left[:5]}")
    return out


def load_adm_checkpoint(path: str | Path, size: int):
    """The guided-diffusion ``.pt`` at ``path`` (``256x256_diffusion_uncond.pt`` or
    ``512x512_diffusion.pt``) as a ``UNet2DModel`` (float32, eval)."""
    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"diffusion.path={str(path)!r}: no such ADM checkpoint")
    sd = torch.load(p, map_location="cpu", weights_only=True)
    cfg = paper_config(size)
    unet = unet_for(cfg)
    missing, unexpected = unet.load_state_dict(convert_state_dict(sd, cfg), strict=False)
    if missing or unexpected:
        raise ValueError(f"{p}: not an ADM-{size} checkpoint (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    return unet.eval()
