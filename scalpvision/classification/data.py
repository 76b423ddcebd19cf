"""Classifier inputs: the letterboxed square, one normalisation everywhere, the training-set
variants, and augmented sets joined by manifest.

The 4:3 frame is **padded** to a square (never squashed, never cropped: the whole field of
view stays in, and a round flake stays round). Padding takes the normalisation mean, so it is
zero after normalising. The mean and std are measured on the train split and stored with the
model; training, validation, test and serving all use that one :class:`Normalisation`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from scalpvision.classification.model import CONDITIONS
from scalpvision.errors import BadInputError, MissingInputError

AUGMENTED_COLUMNS = ("source", "target", *CONDITIONS, "path")


@dataclass(frozen=True)
class Normalisation:
    mean: tuple[float, float, float]  # RGB, on [0, 1] pixels
    std: tuple[float, float, float]

    @classmethod
    def measure(cls, images: np.ndarray, pads: np.ndarray) -> "Normalisation":
        """From ``images: (N, S, S, 3) uint8`` letterboxed squares and their ``pads: (N, S, S)
        bool``; only pixels of the frame count."""
        x = images[~pads].astype(np.float64) / 255.0  # (P, 3)
        if not len(x):
            raise ValueError("no image pixels to measure the normalisation on")
        return cls(tuple(float(v) for v in x.mean(0)),
                   tuple(float(max(v, 1e-3)) for v in x.std(0)))

    def to_dict(self) -> dict:
        return asdict(self)

    def apply(self, images: np.ndarray, pad: np.ndarray | None = None) -> torch.Tensor:
        """``images: (N, S, S, 3) uint8`` -> (N, 3, S, S) float32 normalised; pixels where
        ``pad: (N, S, S) bool`` is true are set to 0 (the mean)."""
        x = (images.astype(np.float32) / 255.0 - np.float32(self.mean)) / np.float32(self.std)
        if pad is not None:
            x[pad] = 0.0
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``image: (H, W, 3) uint8`` -> ``(square (size, size, 3) uint8, pad (size, size) bool)``.

    The long side is resized to ``size`` (area interpolation), aspect kept; the frame is
    centred and the remaining rows (or columns) are padding, reported in ``pad``."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size, 3), np.uint8)
    pad = np.ones((size, size), bool)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    pad[y0:y0 + nh, x0:x0 + nw] = False
    return out, pad


def load_squares(paths, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Letterboxed ``(N, size, size, 3) uint8`` and pads ``(N, size, size) bool``; a file that
    cannot be read raises naming it."""
    from scalpvision.io import read_image

    ims, pads = [], []
    for p in paths:
        im, pad = letterbox(read_image(p), size)
        ims.append(im)
        pads.append(pad)
    if not ims:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0, size, size), bool)
    return np.stack(ims), np.stack(pads)


def gaussian_noise(x: torch.Tensor, std: float, norm: Normalisation,
                   generator: torch.Generator) -> torch.Tensor:
    """The "+ Gaussian noise" variant: noise of ``std`` on [0, 1] pixels, added to normalised
    ``x: (B, 3, S, S)`` (so divided by the channel std)."""
    s = torch.tensor(norm.std, dtype=x.dtype)[None, :, None, None]
    return x + torch.randn(x.shape, generator=generator, dtype=x.dtype) * std / s


def augmix(images: np.ndarray, seed: int) -> np.ndarray:
    """The "+ AugMix" variant (Hendrycks et al. 2020, torchvision's AugMix, severity 3,
    width 3): ``images: (B, S, S, 3) uint8`` -> same shape, seeded."""
    from torchvision.transforms import AugMix

    torch.manual_seed(seed)
    t = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    aug = AugMix()
    return np.stack([aug(im).numpy() for im in t]).transpose(0, 2, 3, 1)


def join_augmented(manifest: pd.DataFrame, augmented: pd.DataFrame, where: str) -> pd.DataFrame:
    """Rows of an augmented set (``source``, ``target``, the three grades the new image carries,
    ``path``) checked against ``manifest`` and returned as extra train rows.

    Joined by the ``source`` column, never by listing order. Fails (naming ``where`` and the
    images) when a column is missing, a source or target is unknown, a source lies outside the
    train split (its augmentation would leak into val/test), or an image file is missing."""
    missing = [c for c in AUGMENTED_COLUMNS if c not in augmented.columns]
    if missing:
        raise BadInputError(f"{where}: augmented manifest lacks columns {missing} "
                            f"(needs {list(AUGMENTED_COLUMNS)})")
    split = manifest.set_index("image_id")["split"]
    unknown = sorted(set(augmented.source) - set(split.index))
    if unknown:
        raise BadInputError(f"{where}: sources not in the manifest: {unknown[:5]}")
    leaked = augmented[split.reindex(augmented.source).to_numpy() != "train"]
    if len(leaked):
        raise BadInputError(
            f"{where}: {len(leaked)} augmented images come from val/test sources, e.g. "
            f"{leaked.source.iloc[0]} ({split[leaked.source.iloc[0]]}); augmentations must come "
            "only from train images")
    bad_t = sorted(set(augmented.target) - set(split.index))
    if bad_t:
        raise BadInputError(f"{where}: targets not in the manifest: {bad_t[:5]}")
    for c in CONDITIONS:
        g = pd.to_numeric(augmented[c], errors="coerce")
        if g.isna().any() or not g.between(0, 3).all():
            raise BadInputError(f"{where}: column {c} must hold grades 0-3")
    root = Path(where).parent
    paths = [p if Path(p).is_absolute() or Path(p).exists() else str(root / p)
             for p in augmented.path]
    absent = [p for p in paths if not Path(p).is_file()]
    if absent:
        raise MissingInputError(f"{where}: {len(absent)} augmented images missing, e.g. {absent[0]}")
    groups = manifest.set_index("image_id")["group"]
    return pd.DataFrame({
        "image_id": [f"{s}__aug{i}" for i, s in enumerate(augmented.source)],
        "path": paths, "split": "train", "group": groups.reindex(augmented.source).to_numpy(),
        "augmented": True, "source": augmented.source.to_numpy(),
        **{c: augmented[c].astype(int).to_numpy() for c in CONDITIONS}})


@dataclass
class SplitSquares:
    """Every split of ``classifier.splits`` loaded once: rows, letterboxed squares + pads,
    grades ``(N, 3)``, subject groups, and the normalisation measured on the train split."""
    rows: dict[str, pd.DataFrame]
    squares: dict[str, tuple[np.ndarray, np.ndarray]]
    grades: dict[str, np.ndarray]
    groups: dict[str, np.ndarray]
    norm: Normalisation

    def val(self, name: str) -> tuple:
        return (*self.squares[name], self.grades[name], self.groups[name])


def load_split_squares(manifest: pd.DataFrame, splits, size: int) -> SplitSquares:
    parts = {s: manifest[manifest.split == s].reset_index(drop=True) for s in splits}
    sq = {s: load_squares(d.path, size) for s, d in parts.items()}
    return SplitSquares(parts, sq, {s: d[list(CONDITIONS)].to_numpy(int) for s, d in parts.items()},
                        {s: d.group.to_numpy() for s, d in parts.items()},
                        Normalisation.measure(*sq[splits[0]]))
