"""Scoring one generated set with everything the evaluation needs, loaded once: the pipeline's
segmenter (hair preservation), the classifier trained on real images only (condition
transfer), the classical scalp statistics, the encoder's features of the real train and
validation images (realism, memorisation) and, where local, Inception and LPIPS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from scalpvision.augment.evaluate import (
    colour_transfer, frechet_distance, hair_preservation, kid, memorisation, transfer_rates,
)
from scalpvision.classification.model import CONDITIONS


@torch.no_grad()
def encoder_features(encoder, images: list[np.ndarray], size: tuple[int, int],
                     batch: int = 32) -> np.ndarray:
    """CLS features ``(N, D)`` of 640×480 ``images`` resized to the model frame ``size``."""
    import cv2

    from scalpvision.augment.diffusion import to_model

    h, w = size
    out = []
    for i in range(0, len(images), batch):
        x = to_model(np.stack([cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA)
                               for im in images[i:i + batch]]))
        out.append(encoder((x + 1) / 2)[1].numpy())
    return np.concatenate(out) if out else np.zeros((0, 1))


def grades(predictor, images) -> np.ndarray:
    from scalpvision.classification.metrics import grades_from_proba

    return grades_from_proba(predictor.predict(images), predictor.gate)


class Assessor:
    def __init__(self, segmenter, classifier, encoder, size, train_images, val_images,
                 train_ids, eval_cfg, seed: int):
        self.seg, self.clf, self.enc, self.size = segmenter, classifier, encoder, size
        self.cfg, self.seed = eval_cfg, seed
        self.train_ids = np.asarray(train_ids)
        self.train_f = encoder_features(encoder, train_images, size)
        self.val_f = encoder_features(encoder, val_images, size)
        self.val_images = val_images
        self.fid = _inception(eval_cfg.inception_checkpoint)
        self.lpips = load_lpips(eval_cfg.lpips_checkpoint) if eval_cfg.lpips_checkpoint else None

    def score(self, images: list[np.ndarray], pairs: pd.DataFrame, src_images, src_masks,
              trg_images, n_hair: int) -> dict[str, float]:
        """Metrics of ``images`` (the set, in ``pairs`` order); hair preservation on the first
        ``n_hair`` (segmentation is the slow part)."""
        from scalpvision.classification.baseline import scalp_features

        m: dict[str, float] = {"images": len(images)}
        k = min(n_hair, len(images))
        if k and self.seg is not None:
            pred = [self.seg(im).final for im in images[:k]]
            m.update({f"hair_{n}": v for n, v in hair_preservation(pred, src_masks[:k]).items()})
        src_lab = pairs.source_label.map(lambda s: [int(c) for c in str(s).zfill(3)])
        source = np.array(src_lab.tolist(), dtype=int).reshape(-1, 3)
        target = pairs[list(CONDITIONS)].to_numpy(int)
        m.update(transfer_rates(grades(self.clf, images), grades(self.clf, src_images),
                                source, target))
        feats = [{f: np.array([d[f] for d in rows]) for f in rows[0]} for rows in (
            [scalp_features(im, h) for im, h in zip(images, src_masks)],
            [scalp_features(im, h) for im, h in zip(src_images, src_masks)],
            [scalp_features(im) for im in trg_images])]
        m.update(colour_transfer(*feats, source, target))
        gen_f = encoder_features(self.enc, images, self.size)
        m["kid_scalpvit"], m["kid_scalpvit_std"] = kid(
            gen_f, self.val_f, self.cfg.kid_subset, self.cfg.kid_subsets, self.seed)
        m["kid_subset"] = min(self.cfg.kid_subset, len(gen_f), len(self.val_f))
        m["fd_scalpvit"] = frechet_distance(gen_f, self.val_f) if len(gen_f) > 1 else float("nan")
        m["fd_real_images"] = len(self.val_f)
        src_idx = np.array([np.flatnonzero(self.train_ids == s)[0] if (self.train_ids == s).any()
                            else -1 for s in pairs.source])
        m.update(memorisation(gen_f, self.train_f, self.val_f, src_idx))
        if self.fid is not None:
            m["fid"] = self.fid(images, self.val_images)
        if self.lpips is not None:
            m["lpips"] = lpips_distance(self.lpips, images, src_images)
        return m


def _inception(path: str):
    """FID with the standard Inception (torch-fidelity's weights from a local file), or None."""
    if not path:
        return None
    from scalpvision.errors import MissingInputError

    from pathlib import Path

    if not Path(path).is_file():
        raise MissingInputError(f"augment.eval.inception_checkpoint={path!r}: no such file")

    def fid(a: list[np.ndarray], b: list[np.ndarray]) -> float:
        from torchmetrics.image.fid import FrechetInceptionDistance

        metric = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=path)
        for ims, real in ((b, True), (a, False)):
            for i in range(0, len(ims), 16):
                x = torch.from_numpy(np.stack(ims[i:i + 16]).transpose(0, 3, 1, 2).copy())
                metric.update(x, real=real)
        return float(metric.compute())

    return fid


VGG_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))


def load_lpips(path: str):
    """LPIPS-VGG with the torchvision VGG16 trunk from a local file (the linear heads ship
    with the ``lpips`` package); inputs in [-1, 1]."""
    from pathlib import Path

    import lpips

    from scalpvision.errors import MissingInputError

    if not Path(path).is_file():
        raise MissingInputError(f"augment.eval.lpips_checkpoint={path!r}: no such file")
    net = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    mapped = {}
    for key, v in state.items():
        if not key.startswith("features."):
            continue
        i = int(key.split(".")[1])
        for s, (lo, hi) in enumerate(VGG_SLICES, 1):
            if lo <= i < hi:
                mapped[f"slice{s}.{i}.{key.split('.')[2]}"] = v
    missing = net.net.load_state_dict(mapped, strict=True)
    del missing
    return net.eval().requires_grad_(False)


@torch.no_grad()
def lpips_distance(net, a: list[np.ndarray], b: list[np.ndarray]) -> float:
    from scalpvision.augment.diffusion import to_model

    out = [float(net(to_model(x[None]), to_model(y[None])).mean()) for x, y in zip(a, b)]
    return float(np.mean(out))
