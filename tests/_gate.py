"""A scalp gate trained in seconds for the tests: rendered scalp frames (and recoloured copies)
against a few procedural non-scalp images of each kind."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from _params import PARAMS


def scalp(seed: int) -> np.ndarray:
    from scalpvision.data.synthetic import render_scalp

    rng = np.random.default_rng(seed)
    return render_scalp({f"value_{k}": int(v) for k, v in enumerate(rng.integers(0, 4, 6), 1)},
                        rng).image


def tiny_gate(out: Path, n_scalps: int = 16, per_kind: int = 4, estimators: int = 40,
              novelty_margin: float | None = None) -> Path:
    """Saved to ``out``; ``novelty_margin``: limit = margin x the largest training distance
    (None: no novelty limit)."""
    from scalpvision.gate.features import gate_features
    from scalpvision.gate.model import GateSet, Novelty, fit_gate, save_gate_dir
    from scalpvision.gate.samples import procedural, vary_scalp

    gp = replace(PARAMS.scalp_gate, estimators=estimators)
    rng = np.random.default_rng(1)
    x, kinds = [], []
    for i in range(n_scalps):
        im = scalp(100 + i)
        x += [gate_features(im), gate_features(vary_scalp(im, rng))]
        kinds += ["synthetic scalp", "recoloured scalp"]
    for kind, im in procedural("train", per_kind, 0):
        x.append(gate_features(im))
        kinds.append(kind)
    train = GateSet(np.asarray(x), kinds, kinds)
    nov = Novelty.fit(train.x[train.is_scalp])
    if novelty_margin is not None:
        lim = nov.with_limit(train.x[train.is_scalp], 1.0).limit * novelty_margin
        nov = Novelty(nov.mean, nov.scale, nov.precision, lim)
    return save_gate_dir(out, fit_gate(train, gp), nov, gp, {})
