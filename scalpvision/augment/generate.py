"""Generating an augmented set from a pairs table: the one batch loop the ``augment`` stage and
the benchmark share. Models are loaded once by the caller; a pair whose source, mask or target
cannot be read is quarantined with its reason and the batch goes on."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from scalpvision.augment.compose import (
    composite, editable_region, feathered, match_scalp_colour, region_at, to_region_tensor,
)
from scalpvision.augment.diffusion import to_model, to_uint8
from scalpvision.augment.sampler import uses_mask
from scalpvision.classification.model import CONDITIONS

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("source", "target", *CONDITIONS, "path", "method", "mode", "mask", "seed")


@dataclass
class GeneratedSet:
    rows: list[dict] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (pair, why)
    images: list[np.ndarray] = field(default_factory=list)  # kept when asked (evaluation)
    positions: list[int] = field(default_factory=list)  # row position in ``pairs`` of each image
    seconds: float = 0.0

    def manifest(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(MANIFEST_COLUMNS))


def set_dir(out_dir: str | Path, method: str) -> Path:
    """Where the augmented set of ``method`` lives (images/ + manifest.csv)."""
    return Path(out_dir) / "sets" / method


def hair_mask_path(masks_dir: str | Path, image_path: str | Path) -> Path:
    return Path(masks_dir) / f"{Path(image_path).stem}.png"


def _load(pair, paths: dict, masks_dir, size):
    from scalpvision.io import read_image, read_mask
    from scalpvision.segmentation.baselines import blackhat_morphology

    src = read_image(paths[pair.source])
    trg = read_image(paths[pair.target])
    mp = hair_mask_path(masks_dir, paths[pair.source])
    if not mp.is_file():
        raise FileNotFoundError(f"{mp}: no hair mask for source {pair.source}")
    hair = read_mask(mp).astype(bool)
    if hair.shape != src.shape[:2]:
        raise ValueError(f"{mp}: mask {hair.shape} does not match image {src.shape[:2]}")
    h, w = size
    small = lambda im: cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
    return src, hair, small(src), small(trg), small(blackhat_morphology(trg).astype(np.uint8)) > 0


def generate_set(pairs: pd.DataFrame, paths: dict, masks_dir, sampler, method: str,
                 mask_mode: str, colour_match: str, batch_size: int, seed: int,
                 out_dir: str | Path | None, keep: bool = False, progress=None, start: int = 0
                 ) -> GeneratedSet:
    """Translate every pair (``source`` -> the ``target``'s grades) with ``method``; write
    ``<source>_<target_label>_<k>.jpg`` (640×480) under ``out_dir`` (None: write nothing)
    and return the manifest rows (:data:`MANIFEST_COLUMNS`; ``path`` relative to ``out_dir``,
    where the manifest is written). ``start``: the position of ``pairs``' first row in the
    whole table (a shard's offset): batch ``b`` draws its noise from seed ``start + b``, so a
    table cut into shards of whole batches gives the same images as one pass."""
    from scalpvision.io import write_image

    res = GeneratedSet()
    size = sampler.net.size
    mode = mask_mode if uses_mask(method) else "ones"
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        (out / "images").mkdir(parents=True, exist_ok=True)
    batches = range(0, len(pairs), batch_size)
    t0 = time.perf_counter()
    for b in (progress(batches) if progress else batches):
        chunk = pairs.iloc[b:b + batch_size]
        loaded, keep_rows = [], []
        for pos, (k, pair) in enumerate(chunk.iterrows(), b):
            try:
                loaded.append(_load(pair, paths, masks_dir, size))
                keep_rows.append((k, pair))
                res.positions.append(pos)
            except (OSError, ValueError) as exc:  # quarantined, reported, never fatal
                res.failed.append((f"{pair.source}->{pair.target}", str(exc)))
        if not loaded:
            continue
        m_full = [editable_region(h, mode) for _, h, _, _, _ in loaded]
        m = to_region_tensor([region_at(r, size) for r in m_full])
        src = to_model(np.stack([s for _, _, s, _, _ in loaded]))
        trg = to_model(np.stack([t for _, _, _, t, _ in loaded]))
        gen = torch.Generator().manual_seed(seed * 1_000_003 + start + b)
        x = to_uint8(sampler.sample(src, trg, m, method, gen))
        for j, ((k, pair), (src_full, _, _, trg_small, trg_hair)) in enumerate(
                zip(keep_rows, loaded)):
            g = x[j]
            if colour_match == "scalp":
                g = match_scalp_colour(g, m[j, 0].numpy(), trg_small, trg_hair)
            final = composite(src_full, g, feathered(m_full[j], mode))
            name = f"{pair.source}_{pair.target_label}_{k}.jpg"
            if out is not None:
                write_image(out / "images" / name, final, quality=95)
            if keep:
                res.images.append(final)
            res.rows.append({"source": pair.source, "target": pair.target,
                             **{c: int(pair[c]) for c in CONDITIONS},
                             "path": f"images/{name}", "method": method,
                             "mode": sampler.sp.mode, "mask": mode, "seed": seed})
    res.seconds = time.perf_counter() - t0
    return res


@dataclass
class GenerateShards:
    """One augmented set as a shard task (:mod:`scalpvision.ops.engine`): each worker loads
    the backbone, encoder (and LPIPS) once from the ``diffusion`` / ``guidance`` / ``augment``
    settings; a shard of pair rows (dicts with their table index under ``"_index"``) writes
    its images and returns their manifest rows. Shards must hold whole batches."""
    a: object  # AugmentParams
    dp: object  # DiffusionParams
    gp: object  # GuidanceParams
    paths: dict
    method: str
    mode: str
    mask: str
    colour: str

    def setup(self) -> None:
        from dataclasses import replace

        from scalpvision.augment.assess import load_lpips
        from scalpvision.augment.diffusion import Schedule, load_backbone
        from scalpvision.augment.encoder import load_encoder
        from scalpvision.augment.sampler import Sampler

        torch.set_num_threads(self.a.threads)
        dp, lc = self.dp, self.a.eval.lpips_checkpoint
        sched = Schedule.linear(dp.schedule.timesteps, dp.schedule.beta_start,
                                dp.schedule.beta_end)
        self._sampler = Sampler(load_backbone(dp, dp.out_dir), load_encoder(self.gp, self.gp.out_dir),
                                sched, replace(self.a.sampler, mode=self.mode),
                                load_lpips(lc) if lc else None)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_sampler"}

    def run(self, items: list, out_dir: Path, start: int) -> dict:
        pairs = pd.DataFrame(items).set_index("_index")
        pairs.index.name = None
        c = self._sampler.counters
        before = (c.unet_forward, c.unet_backward, c.encoder_forward)
        res = generate_set(pairs, self.paths, self.a.masks_dir, self._sampler, self.method,
                           self.mask, self.colour, self.a.batch_size, self.a.seed, out_dir,
                           start=start)
        return {"rows": res.rows, "failed": res.failed, "seconds": res.seconds,
                "positions": [start + p for p in res.positions],
                "counters": [c.unet_forward - before[0], c.unet_backward - before[1],
                             c.encoder_forward - before[2]]}


def merge_sets(records: list[dict], out_dir: Path) -> tuple[GeneratedSet, list[int]]:
    """The :class:`GeneratedSet` of a sharded run (images read back from ``out_dir``, as
    they were written) and its summed network counters."""
    from scalpvision.io import read_image

    res, counters = GeneratedSet(), [0, 0, 0]
    for r in records:
        res.rows += r["rows"]
        res.failed += [tuple(f) for f in r["failed"]]
        res.positions += r["positions"]
        res.seconds += r["seconds"]
        counters = [a + b for a, b in zip(counters, r["counters"])]
    res.images = [read_image(Path(out_dir) / row["path"]) for row in res.rows]
    return res, counters
