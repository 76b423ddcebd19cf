"""How the strand count's settings are chosen: on the built-in **validation** split, for each
value of one ``features.count.strands`` setting, the count error and the per-hair matching
errors (:func:`~scalpvision.features.accuracy.match_hairs`: hairs cut in two, hairs missed,
strands on no counted hair) on the ground-truth masks and on the segmenter's masks M.

A count error lets a hair cut in two cancel a hair missed; the matching errors do not, but
the count is the feature users get. The choice score is the mean of the two count errors and
the two matching-error rates (per true hair). The per-hair truth
comes from re-rendering the validation images (the renderer is deterministic; each re-rendered
mask is checked against the data set's). Writes reports/benchmarks/count_choice.md.

    .venv/bin/python benchmarks/count_choice.py --set through_scale=0,32 [--set bridge_scale=0.5,2 ...]

Each ``--set`` varies one setting from params.yaml's values and prints its own table.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import reported  # noqa: E402

from scalpvision.config import load_params  # noqa: E402
from scalpvision.data.synthetic_dataset import iter_rendered, plan_dataset  # noqa: E402
from scalpvision.features.suite import Case, builtin_case, score_case, summarise  # noqa: E402
from scalpvision.io import read_image, read_mask  # noqa: E402
from scalpvision.segmentation.area import analysed_area  # noqa: E402


def validation_cases(P, split: str = "val") -> list[tuple[Case, dict, np.ndarray | None]]:
    """The split's images with masks as suite cases (:func:`builtin_case`), each with its
    masks to score (the truth, and M where ``features.masks_dir`` holds it) and the analysed
    area M was cut to (None without M)."""
    man = pd.read_csv(P.features.manifest)
    rows = man[(man.split == split) & man.mask_path.notna()]
    r = P.render
    plans = {p.file_name: p for p in plan_dataset(r.n_images, r.seed, r.images_per_session,
                                                  r.validation_share, r.second_filing_share)}
    cases = []
    drawn_all = iter_rendered([plans[n] for n in rows.image_file_name], r.seed, r.width, r.height)
    for k, (row, (_, drawn)) in enumerate(zip(rows.itertuples(), drawn_all)):
        if not np.array_equal(drawn.mask, read_mask(row.mask_path)):
            raise SystemExit(f"{row.mask_path}: re-rendering gives another mask; the data set "
                             "was rendered with other `render` settings or renderer code")
        image = read_image(row.path)
        masks, area = {"ground truth": drawn.mask}, None
        m = Path(P.features.masks_dir) / f"{Path(row.path).stem}.png"
        if m.is_file():
            area = analysed_area(image).mask
            masks["segmenter"] = read_mask(m)
        cases.append((builtin_case(split, k, image, drawn), masks, area))
    return cases


def score(cases: list, count) -> pd.DataFrame:
    """The suite's summary (:func:`summarise`) of ``cases`` over all width bands, one row per
    mask source."""
    rows = [row for case, masks, area in cases for row in score_case(case, masks, count, area)]
    s = summarise(pd.DataFrame(rows))
    return s[s["width band"] == "all"].set_index("source")


COLUMNS = ("count rel. error", "count bias", "cut in two", "missed", "matching errors")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", required=True, action="append",
                    help="setting=v1,v2,... of features.count.strands (repeatable)")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    base = P.features.count
    cases = validation_cases(P)
    n_m = sum("segmenter" in masks for _, masks, _ in cases)
    with reported("count_choice"):
        for spec in args.set:
            t0 = time.perf_counter()
            name, values = spec.split("=")
            rows = []
            for v in values.split(","):
                cur = type(getattr(base.strands, name))(v)
                count = dataclasses.replace(
                    base, strands=dataclasses.replace(base.strands, **{name: cur}))
                s = score(cases, count)
                rows.append({name: cur, **{f"{src}: {k}": s.loc[src, k] for src in s.index
                                           for k in COLUMNS},
                             "choice score": s[["count rel. error", "matching errors"]]
                             .to_numpy().mean()})
            print(f"### `features.count.strands.{name}` on the validation split ({len(cases)} "
                  f"ground-truth masks, {n_m} segmenter masks M; "
                  f"{time.perf_counter() - t0:.0f} s)\n")
            print("Errors per true hair (count bias: hairs an image); the choice score is the "
                  "mean of the count errors and matching-error rates on both kinds of mask "
                  "(lowest is chosen); M is the segmenter's mask. In "
                  f"params.yaml: {getattr(base.strands, name)}.\n")
            print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"), "\n")


if __name__ == "__main__":
    main()
