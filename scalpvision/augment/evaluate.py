"""How good an augmented set is: hair preservation (paper Table 6), condition transfer (which
the paper never measured), realism and memorisation.

Metric names say which network they were computed on: ``kid_scalpvit`` / ``fd_scalpvit`` on
the in-domain encoder (never called KID/FID), ``fid`` and ``lpips`` only when the Inception and
VGG weights are local files.
"""

from __future__ import annotations

import numpy as np

from scalpvision.classification.model import CONDITIONS


def hair_preservation(pred_masks, source_masks) -> dict[str, float]:
    """Per-image pixel-F1 (macro over hair and scalp), Jaccard and Dice of the generated
    image's segmented hair against the source's mask, averaged."""
    from scalpvision.segmentation.metrics import segmentation_scores

    rows = [segmentation_scores(p, t) for p, t in zip(pred_masks, source_masks)]
    return {"pixel_f1": float(np.mean([r["pixel_f1_macro"] for r in rows])),
            "jaccard": float(np.mean([r["jaccard"] for r in rows])),
            "dice": float(np.mean([r["dice"] for r in rows])), "images": len(rows)}


def transfer_rates(pred_gen: np.ndarray, pred_src: np.ndarray, source: np.ndarray,
                   target: np.ndarray) -> dict[str, float]:
    """Grades ``(N, 3)``: predicted on the generated images and on their unmodified sources,
    and the source's and target's labels. Per condition, over the pairs whose target grade
    differs from the source's: the share of generated images predicted at the target grade
    (``reach``), the same share for the unmodified sources (``reach_source``: what the
    classifier says with no translation at all), and the share moved in the target's direction
    (``toward``)."""
    out: dict[str, float] = {}
    reach, base, toward, n_all = [], [], [], 0
    for k, c in enumerate(CONDITIONS):
        sel = target[:, k] != source[:, k]
        n = int(sel.sum())
        out[f"{c}_pairs"] = n
        if not n:
            continue
        r = pred_gen[sel, k] == target[sel, k]
        b = pred_src[sel, k] == target[sel, k]
        d = np.sign(pred_gen[sel, k] - pred_src[sel, k]) == np.sign(target[sel, k] - source[sel, k])
        out[f"{c}_reach"], out[f"{c}_reach_source"] = float(r.mean()), float(b.mean())
        out[f"{c}_toward"] = float(d.mean())
        reach.append(r), base.append(b), toward.append(d)
        n_all += n
    if n_all:
        out["reach"] = float(np.concatenate(reach).mean())
        out["reach_source"] = float(np.concatenate(base).mean())
        out["toward"] = float(np.concatenate(toward).mean())
    return out


# the classical scalp statistic each condition moves (classification.baseline.FEATURES)
COLOUR_STAT = {"dandruff": "flake_share", "sebum": "specular_share", "erythema": "a_mean"}


def colour_transfer(gen_f: dict, src_f: dict, trg_f: dict, source: np.ndarray,
                    target: np.ndarray) -> dict[str, float]:
    """The classical check: per condition, over pairs whose target grade differs, the share
    whose scalp statistic (:data:`COLOUR_STAT`) moved from the source's toward the target
    image's (``gen_f`` etc.: name -> (N,) arrays)."""
    out = {}
    for k, c in enumerate(CONDITIONS):
        f = COLOUR_STAT[c]
        sel = (target[:, k] != source[:, k]) & (trg_f[f] != src_f[f])
        if sel.any():
            moved = np.sign(gen_f[f][sel] - src_f[f][sel]) == np.sign(trg_f[f][sel] - src_f[f][sel])
            out[f"{c}_colour_toward"] = float(moved.mean())
            gap = np.abs(trg_f[f][sel] - src_f[f][sel])
            out[f"{c}_colour_gap_closed"] = float(np.median(
                1 - np.abs(trg_f[f][sel] - gen_f[f][sel]) / np.maximum(gap, 1e-9)))
    return out


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to features ``a: (N, d)``, ``b: (M, d)`` (biased
    at small N; rank-deficient below d samples - report N beside it)."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    if not np.isfinite(covmean).all():
        eps = 1e-6 * np.eye(len(s1))
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def kid(a: np.ndarray, b: np.ndarray, subset: int, subsets: int, seed: int) -> tuple[float, float]:
    """Kernel Inception-style distance (Bińkowski et al. 2018): the unbiased MMD² with the
    cubic polynomial kernel ``(x·y/d + 1)³``, averaged over ``subsets`` random subsets of
    ``min(subset, N, M)``; returns (mean, std)."""
    rng = np.random.default_rng(seed)
    m = min(subset, len(a), len(b))
    if m < 2:
        return float("nan"), float("nan")
    d = a.shape[1]
    vals = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        vals.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                    + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return float(np.mean(vals)), float(np.std(vals))


def nearest_distance(queries: np.ndarray, bank: np.ndarray,
                     exclude_self: bool = False) -> np.ndarray:
    """Cosine distance from each query feature to its nearest neighbour in ``bank``."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True).clip(1e-12)
    k = bank / np.linalg.norm(bank, axis=1, keepdims=True).clip(1e-12)
    sim = q @ k.T
    if exclude_self:
        np.fill_diagonal(sim, -np.inf)
    return 1 - sim.max(1)


def memorisation(gen: np.ndarray, train: np.ndarray, real_val: np.ndarray,
                 sources: np.ndarray) -> dict[str, float]:
    """Nearest-neighbour cosine distances in the encoder's space: generated images to the
    training images, against real held-out images to the training images (the distance a
    genuinely new image has). ``copies``: share of generated images nearer to some training
    image than the 5th percentile of the real held-out ones; ``source_nearest``: share whose
    nearest training image is their own source (edits, not copies of other images)."""
    d_gen = nearest_distance(gen, train)
    d_real = nearest_distance(real_val, train)
    cut = np.percentile(d_real, 5)
    q = gen / np.linalg.norm(gen, axis=1, keepdims=True).clip(1e-12)
    k = train / np.linalg.norm(train, axis=1, keepdims=True).clip(1e-12)
    nearest = (q @ k.T).argmax(1)
    return {"nn_distance_generated_median": float(np.median(d_gen)),
            "nn_distance_real_median": float(np.median(d_real)),
            "copies": float(np.mean(d_gen < cut)),
            "source_nearest": float(np.mean(nearest == sources))}
