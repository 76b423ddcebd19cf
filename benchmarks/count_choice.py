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
from scalpvision.features.accuracy import match_hairs  # noqa: E402
from scalpvision.features.table import trace  # noqa: E402
from scalpvision.io import read_image, read_mask  # noqa: E402
from scalpvision.segmentation.area import analysed_area  # noqa: E402


def validation_cases(P, split: str = "val") -> list[dict]:
    """The split's images with masks: truth mask, hair ids, counted hairs, and M when the
    ``features.masks_dir`` holds it (with the analysed area it was cut to)."""
    man = pd.read_csv(P.features.manifest)
    rows = man[(man.split == split) & man.mask_path.notna()]
    r = P.render
    plans = {p.file_name: p for p in plan_dataset(r.n_images, r.seed, r.images_per_session,
                                                  r.validation_share, r.second_filing_share)}
    cases = []
    drawn_all = iter_rendered([plans[n] for n in rows.image_file_name], r.seed, r.width, r.height)
    for row, (_, drawn) in zip(rows.itertuples(), drawn_all):
        truth = read_mask(row.mask_path)
        if not np.array_equal(drawn.mask, truth):
            raise SystemExit(f"{row.mask_path}: re-rendering gives another mask; the data set "
                             "was rendered with other `render` settings or renderer code")
        case = {"truth": truth, "hair_id": drawn.hair_id,
                "counted": [i for i, h in enumerate(drawn.hairs) if h["counted"]]}
        m = Path(P.features.masks_dir) / f"{Path(row.path).stem}.png"
        if m.is_file():
            case["area"] = analysed_area(read_image(row.path)).mask
            case["M"] = read_mask(m) & case["area"]
        cases.append(case)
    return cases


def score(cases: list[dict], count) -> dict:
    out = {}
    for source, key in (("ground truth", "truth"), ("M", "M")):
        tot = {}
        for c in cases:
            if key not in c:
                continue
            t = trace(c[key], count, area=c.get("area") if key == "M" else None)
            for k, v in match_hairs(t.labels, c["hair_id"], c["counted"]).items():
                tot[k] = tot.get(k, 0) + v
            tot["abs_error"] = tot.get("abs_error", 0) + abs(t.count - len(c["counted"]))
        if not tot:
            continue
        n = max(tot["true"], 1)
        out[source] = {"count rel. error": tot["abs_error"] / n,
                       "count bias %": (tot["count"] - tot["true"]) / n,
                       "cut in two": tot["split"] / n, "missed": tot["missed"] / n,
                       "extra": tot["extra"] / n, "matching errors": tot["matching_errors"] / n}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", required=True, action="append",
                    help="setting=v1,v2,... of features.count.strands (repeatable)")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    base = P.features.count
    cases = validation_cases(P)
    n_m = sum("M" in c for c in cases)
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
                rows.append({name: cur, **{f"{src}: {k}": x for src, d in s.items()
                                           for k, x in d.items()},
                             "choice score": np.mean([d[k] for d in s.values() for k in
                                                      ("count rel. error", "matching errors")])})
            print(f"### `features.count.strands.{name}` on the validation split ({len(cases)} "
                  f"ground-truth masks, {n_m} segmenter masks M; "
                  f"{time.perf_counter() - t0:.0f} s)\n")
            print("Errors per true hair; the choice score is the mean of the count errors and "
                  "matching-error rates on both kinds of mask (lowest is chosen). In "
                  f"params.yaml: {getattr(base.strands, name)}.\n")
            print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"), "\n")


if __name__ == "__main__":
    main()
