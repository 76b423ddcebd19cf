"""An independent ADM U-Net (Dhariwal & Nichol 2021, guided-diffusion's ``UNetModel``),
written from the architecture for the converter test: its module names are ADM's, so its
random ``state_dict`` looks like a checkpoint's. Scale-shift ResBlocks with ResBlock
up/down-sampling, legacy-order QKV attention, sinusoidal embedding cos-first."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def gn(c):
    return nn.GroupNorm(32, c)


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, ch, emb, out, up=False, down=False):
        super().__init__()
        self.up, self.down = up, down
        self.in_layers = nn.Sequential(gn(ch), nn.SiLU(), nn.Conv2d(ch, out, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, 2 * out))
        self.out_layers = nn.Sequential(gn(out), nn.SiLU(), nn.Dropout(0.0),
                                        nn.Conv2d(out, out, 3, padding=1))
        self.skip_connection = nn.Identity() if out == ch else nn.Conv2d(ch, out, 1)

    def _resample(self, x):
        if self.up:
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.down:
            return F.avg_pool2d(x, 2)
        return x

    def forward(self, x, emb):
        h = self.in_layers[:-1](x)
        h, x = self._resample(h), self._resample(x)
        h = self.in_layers[-1](h)
        scale, shift = self.emb_layers(emb)[..., None, None].chunk(2, dim=1)
        h = self.out_layers[0](h) * (1 + scale) + shift
        h = self.out_layers[1:](h)
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    def __init__(self, ch, head_ch):
        super().__init__()
        self.heads = ch // head_ch
        self.norm = gn(ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.proj_out = nn.Conv1d(ch, ch, 1)

    def forward(self, x, emb=None):
        b, c, hh, ww = x.shape
        qkv = self.qkv(self.norm(x).reshape(b, c, -1))  # (B, 3C, T)
        d = c // self.heads
        q, k, v = qkv.reshape(b * self.heads, 3 * d, -1).split(d, dim=1)  # legacy order
        s = 1 / math.sqrt(math.sqrt(d))
        w = torch.softmax(torch.einsum("bct,bcs->bts", q * s, k * s), dim=-1)
        a = torch.einsum("bts,bcs->bct", w, v).reshape(b, c, -1)
        return x + self.proj_out(a).reshape(b, c, hh, ww)


class Seq(nn.ModuleList):
    def forward(self, x, emb):
        for m in self:
            x = m(x, emb) if isinstance(m, (ResBlock, AttentionBlock)) else m(x)
        return x


class Conv(nn.Conv2d):
    pass


class ReferenceADM(nn.Module):
    def __init__(self, mc, n_res, mult, attention_ds, head_ch, out_ch=6, num_classes=0):
        super().__init__()
        emb = 4 * mc
        self.mc = mc
        self.time_embed = nn.Sequential(nn.Linear(mc, emb), nn.SiLU(), nn.Linear(emb, emb))
        if num_classes:
            self.label_emb = nn.Embedding(num_classes, emb)
        ch = int(mult[0] * mc)
        self.input_blocks = nn.ModuleList([Seq([nn.Conv2d(3, ch, 3, padding=1)])])
        chans, ds = [ch], 1
        for lv, m in enumerate(mult):
            for _ in range(n_res):
                layers = [ResBlock(ch, emb, int(m * mc))]
                ch = int(m * mc)
                if ds in attention_ds:
                    layers.append(AttentionBlock(ch, head_ch))
                self.input_blocks.append(Seq(layers))
                chans.append(ch)
            if lv != len(mult) - 1:
                self.input_blocks.append(Seq([ResBlock(ch, emb, ch, down=True)]))
                chans.append(ch)
                ds *= 2
        self.middle_block = Seq([ResBlock(ch, emb, ch), AttentionBlock(ch, head_ch),
                                 ResBlock(ch, emb, ch)])
        self.output_blocks = nn.ModuleList()
        for lv, m in list(enumerate(mult))[::-1]:
            for i in range(n_res + 1):
                ich = chans.pop()
                layers = [ResBlock(ch + ich, emb, int(m * mc))]
                ch = int(m * mc)
                if ds in attention_ds:
                    layers.append(AttentionBlock(ch, head_ch))
                if lv and i == n_res:
                    layers.append(ResBlock(ch, emb, ch, up=True))
                    ds //= 2
                self.output_blocks.append(Seq(layers))
        self.out = nn.Sequential(gn(ch), nn.SiLU(), nn.Conv2d(ch, out_ch, 3, padding=1))

    def forward(self, x, t, y=None):
        emb = self.time_embed(timestep_embedding(t, self.mc))
        if y is not None:
            emb = emb + self.label_emb(y)
        hs, h = [], x
        for blk in self.input_blocks:
            h = blk(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for blk in self.output_blocks:
            h = blk(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)
