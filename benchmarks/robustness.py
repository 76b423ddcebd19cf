"""Segmentation quality on renderings the demo data rarely holds: every method's Dice on small
sets of forced variants (light hair, dark skin, heavy blur, glare and flakes). Prints a table.

    .venv/bin/python benchmarks/robustness.py [--model models/u2net] [--n 8] [--params params.yaml]

The segmenter runs with the ``segment`` settings of ``--params`` (the pipeline's).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from scalpvision.data.synthetic import SessionStyle, render_scalp
from scalpvision.segmentation.baselines import BASELINES
from scalpvision.segmentation.metrics import segmentation_scores
from scalpvision.config import load_params
from scalpvision.segmentation.store import build_segmenter

ZERO = {f"value_{i}": 0 for i in range(1, 7)}
VARIANTS = {
    "as rendered": (lambda s: s, {}),
    "grey/blond hair": (lambda s: dataclasses.replace(s, hair_family="grey", grey_share=0.0), {}),
    "dark skin": (lambda s: dataclasses.replace(s, skin_rgb=(150.0, 105.0, 80.0)), {}),
    "heavy blur": (lambda s: dataclasses.replace(s, blur_sigma=2.0, noise_sigma=4.0), {}),
    "glare + flakes": (lambda s: s, {"value_1": 3, "value_2": 3, "value_5": 3}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="models/u2net")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--seed", type=int, default=9000)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    torch.set_num_threads(2)
    seg = build_segmenter(Path(args.model), load_params(args.params).segment)[0]
    both = seg.boundary.active or seg.strokes is not None
    # then M before the strokes and the boundary step too
    methods = ["u2net (M̂)", *(["M̂ AND M_AP"] if both else []), "ensemble (M)", *BASELINES]
    print("| variant | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 1) + "|")
    for name, (restyle, values) in VARIANTS.items():
        scores = {m: [] for m in methods}
        for i in range(args.n):
            rng = np.random.default_rng([args.seed, i])
            style = restyle(SessionStyle.sample(rng))
            v = {**ZERO, "value_6": int(rng.integers(0, 3)), **values}
            r = render_scalp(v, rng, style)
            res = seg(r.image)
            scores["u2net (M̂)"].append(segmentation_scores(res.coarse, r.mask)["dice"])
            scores["ensemble (M)"].append(segmentation_scores(res.final, r.mask)["dice"])
            if both:
                scores["M̂ AND M_AP"].append(segmentation_scores(res.ensembled, r.mask)["dice"])
            for k, f in BASELINES.items():
                scores[k].append(segmentation_scores(f(r.image), r.mask)["dice"])
        print(f"| {name} | " + " | ".join(f"{np.mean(scores[m]):.3f}" for m in methods) + " |")


if __name__ == "__main__":
    from _report import reported

    with reported("robustness"):
        main()
