"""The scalp gate: is an upload a microscopic scalp frame? A gradient-boosted classifier over
:data:`~scalpvision.gate.features.FEATURES` that tells ``scalp`` from each kind of non-scalp
image it was shown, so a refusal names what the upload looks like instead.

The sets are built per part (train / val / test) from disjoint sources: the manifest's split
of that name (scalp frames, plus recoloured copies as other microscopes render them), the real
frames of a third of the scenes (unlabelled: only "this is a scalp" is used), procedural
non-scalp images from the part's own seeds and the part's own photographs
(:mod:`~scalpvision.gate.samples`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scalpvision.gate.features import FEATURES, gate_features
from scalpvision.gate.samples import PARTS, photos, procedural, vary_scalp

SCALP = "scalp"
SCALP_KINDS = ("synthetic scalp", "recoloured scalp", "real scalp frame")


def photo_class(kind: str) -> str:
    """Training class of a sample kind: scalp, a procedural kind, or 'photograph'."""
    if kind in SCALP_KINDS:
        return SCALP
    return "photograph" if kind.startswith("photo: ") else kind


@dataclass(frozen=True)
class GateSet:
    x: np.ndarray  # (N, len(FEATURES))
    kinds: list[str]  # what each sample is (for the per-kind error table)
    sources: list[str]  # file path or generator name

    @property
    def is_scalp(self) -> np.ndarray:
        return np.array([k in SCALP_KINDS for k in self.kinds])


def real_scene_parts(paths: list[Path], seed: int) -> dict[str, str]:
    """Scene -> part: real scenes shuffled (seeded) and dealt 1/2 train, 1/4 val, 1/4 test.
    All exports of one scene stay together."""
    from scalpvision.classification.real_frames import scene_of

    scenes = sorted({scene_of(p) for p in paths})
    order = np.random.default_rng(seed).permutation(len(scenes))
    n = len(scenes)
    cut = {PARTS[0]: n // 2, PARTS[1]: n // 2 + n // 4}
    out = {}
    for rank, i in enumerate(order):
        out[scenes[i]] = PARTS[0] if rank < cut[PARTS[0]] else \
            PARTS[1] if rank < cut[PARTS[1]] else PARTS[2]
    return out


def build_set(part: str, scalp_paths: list[str], real_paths: list[Path], gp) -> GateSet:
    """The part's samples: ``scalp_paths`` (its manifest split, up to ``gp.scalp_images``),
    each also recoloured; its real frames; ``gp.negatives_per_kind`` of each procedural kind;
    ``gp.photo_views`` views of each of its photographs."""
    from scalpvision.classification.real_frames import scene_of
    from scalpvision.io import read_image

    rng = np.random.default_rng([gp.seed, PARTS.index(part)])
    x, kinds, sources = [], [], []

    def add(kind, img, src):
        x.append(gate_features(img))
        kinds.append(kind)
        sources.append(str(src))

    pick = list(scalp_paths)
    if gp.scalp_images and len(pick) > gp.scalp_images:
        pick = [pick[i] for i in sorted(rng.choice(len(pick), gp.scalp_images, replace=False))]
    for p in pick:
        im = read_image(p)
        add("synthetic scalp", im, p)
        add("recoloured scalp", vary_scalp(im, rng), p)
    parts = real_scene_parts(real_paths, gp.seed) if real_paths else {}
    for p in real_paths:
        if parts[scene_of(p)] == part:
            im = read_image(p)
            add("real scalp frame", im, p)
            if part == PARTS[0]:
                add("real scalp frame", vary_scalp(im, rng), p)
    for kind, im in procedural(part, gp.negatives_per_kind, gp.seed):
        add(kind, im, kind)
    for kind, im in photos(part, gp.photo_views, gp.seed):
        add(kind, im, kind)
    return GateSet(np.asarray(x), kinds, sources)


def gate_sets(gp, parts: tuple[str, ...] = PARTS) -> dict[str, GateSet]:
    """The gate's sets of ``parts`` (train / val / test), from the ``scalp_gate`` params."""
    from scalpvision.io import list_images

    man = pd.read_csv(gp.manifest)
    real = [Path(p) for d in gp.real_dirs if Path(d).is_dir() for p in list_images([d])]
    return {part: build_set(part, list(man[man.split == split].path), real, gp)
            for part, split in zip(PARTS, gp.splits) if part in parts}


def fit_gate(train: GateSet, gp):
    from sklearn.ensemble import HistGradientBoostingClassifier

    y = np.array([photo_class(k) for k in train.kinds])
    return HistGradientBoostingClassifier(max_iter=gp.estimators, learning_rate=0.1,
                                          max_leaf_nodes=15, early_stopping=False,
                                          random_state=gp.seed).fit(train.x, y)


@dataclass(frozen=True)
class Novelty:
    """Distance of an image's features from the scalp frames the gate was trained on:
    Mahalanobis over standardised features with a Ledoit-Wolf covariance. It catches what the
    classifier was never shown a kind of; its limit is set on the validation part."""
    mean: np.ndarray
    scale: np.ndarray
    precision: np.ndarray
    limit: float = float("inf")

    @classmethod
    def fit(cls, scalp_x: np.ndarray) -> "Novelty":
        from sklearn.covariance import LedoitWolf

        mean, scale = scalp_x.mean(0), scalp_x.std(0) + 1e-9
        lw = LedoitWolf().fit((scalp_x - mean) / scale)
        return cls(mean, scale, lw.precision_)

    def distance(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - self.mean) / self.scale
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", z, self.precision, z), 0))

    def with_limit(self, val_scalp_x: np.ndarray, quantile: float) -> "Novelty":
        return Novelty(self.mean, self.scale, self.precision,
                       float(np.quantile(self.distance(val_scalp_x), quantile)))


def scalp_probability(model, x: np.ndarray) -> np.ndarray:
    return model.predict_proba(x)[:, list(model.classes_).index(SCALP)]


def passes(p_scalp, distance, threshold: float, limit: float):
    """The gate's decision: the classifier calls it a scalp frame (``p_scalp >= threshold``)
    **and** it is no further from the training scalp frames than the novelty ``limit``."""
    return (p_scalp >= threshold) & (distance <= limit)


def admitted(model, novelty: Novelty, x: np.ndarray, threshold: float) -> np.ndarray:
    """:func:`passes` for every row of ``x``."""
    return passes(scalp_probability(model, x), novelty.distance(x), threshold, novelty.limit)


def error_rates(s: GateSet, passed: np.ndarray) -> dict:
    """False refusals (scalp frames refused) and false acceptances (non-scalp images passed),
    overall and per kind; balanced error = their mean."""
    scalp = s.is_scalp
    out = {"false_refusal_rate": float(np.mean(~passed[scalp])) if scalp.any() else float("nan"),
           "false_acceptance_rate": float(np.mean(passed[~scalp])) if (~scalp).any()
           else float("nan"),
           "scalp_images": int(scalp.sum()), "non_scalp_images": int((~scalp).sum())}
    out["balanced_error"] = (out["false_refusal_rate"] + out["false_acceptance_rate"]) / 2
    df = pd.DataFrame({"kind": s.kinds, "passed": passed, "scalp": scalp})
    out["by_kind"] = {k: {"images": int(len(g)), "scalp": bool(g.scalp.iloc[0]),
                          "error_rate": float(np.mean(g.passed != g.scalp))}
                      for k, g in df.groupby("kind", sort=True)}
    return out


def set_hash(part_sources: dict[str, list[str]], gp) -> str:
    """Identity of the evaluation sets (their sources and the generator settings)."""
    h = hashlib.sha256(json.dumps({"sources": part_sources, "params": asdict(gp)},
                                  sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def save_gate_dir(out: Path, model, novelty: Novelty, gp, evaluation: dict) -> Path:
    import skops.io as sio

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sio.dump(model, out / "gate.skops")
    np.savez(out / "novelty.npz", mean=novelty.mean, scale=novelty.scale,
             precision=novelty.precision)
    (out / "config.json").write_text(json.dumps(
        {"features": list(FEATURES), "classes": [str(c) for c in model.classes_],
         "threshold": gp.threshold, "novelty_limit": novelty.limit,
         "novelty_quantile": gp.novelty_quantile, "evaluation": evaluation},
        indent=1, default=str))
    return out


TRUSTED = ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting."
           "HistGradientBoostingClassifier",
           "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
           "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
           "sklearn._loss.loss.HalfMultinomialLoss", "sklearn._loss.link.MultinomialLogit",
           "sklearn._loss.link.Interval", "sklearn._loss.loss.HalfBinomialLoss",
           "sklearn._loss.link.LogitLink", "sklearn.preprocessing._label.LabelEncoder",
           "numpy.dtype")


def load_gate_dir(path: Path):
    """(model, novelty, config) of a gate directory; refuses a file holding unexpected
    types."""
    from scalpvision.ops.checkpoints import load_trusted_skops

    path = Path(path)
    model = load_trusted_skops(path / "gate.skops", TRUSTED, "a scalp-gate")
    cfg = json.loads((path / "config.json").read_text())
    with np.load(path / "novelty.npz", allow_pickle=False) as z:
        novelty = Novelty(z["mean"], z["scale"], z["precision"], float(cfg["novelty_limit"]))
    return model, novelty, cfg
