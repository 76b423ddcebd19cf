"""The generality suite (scalpvision.features.suite): hair count and width errors per rendering,
mask source and width band, and the segmenter's per-hair recall by width and contrast band, on
renderings nobody tuned on. Writes reports/benchmarks/generality.md and metrics/generality.json.

    .venv/bin/python benchmarks/generality.py [--model models/u2net] [--n 30] [--params params.yaml]

``--model ''`` scores the ground-truth masks only. The count and segmenter settings are the
pipeline's (``features.count``, ``segment``), chosen on the built-in validation split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import reported  # noqa: E402

from scalpvision.config import load_params  # noqa: E402
from scalpvision.features.suite import (  # noqa: E402
    precision_table, recall_table, run_suite, summarise,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="models/u2net")
    ap.add_argument("--n", type=int, default=30, help="images per rendering")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    torch.set_num_threads(2)
    P = load_params(args.params)
    segment = None
    if args.model:
        from scalpvision.segmentation.store import build_segmenter

        seg = build_segmenter(Path(args.model), P.segment)[0]

        def segment(image):
            r = seg(image)
            return r.final, r.area.mask

    t0 = time.perf_counter()
    rows, recall, precision = run_suite(args.n, P.features.count, segment)
    summary = summarise(rows)
    rec = recall_table(recall)
    with reported("generality"):
        print(f"### Count and per-hair width on the generality suite ({args.n} images per "
              f"rendering, count method {P.features.count.method}; {time.perf_counter() - t0:.0f} s)\n")
        print(summary.to_markdown(index=False, floatfmt=".3f"))
        if not rec.empty:
            print("\n### Segmenter recall per hair, by the hair's width (px) and contrast "
                  "(grey levels)\n")
            print(rec.to_markdown(index=False, floatfmt=".3f"))
            print("\n### Segmenter pixel precision (within 1 px of a true hair) and distractor "
                  "pixels (flakes, plugs, glare) called hair\n")
            print(precision_table(precision).to_markdown(index=False, floatfmt=".3f"))
    top = summary[summary["width band"] == "all"]
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/generality.json").write_text(json.dumps(
        {f"{r['rendering']} / {r['source']}": {
            "count_rel_error": round(r["count rel. error"], 4),
            "matching_errors": round(r["matching errors"], 4),
            "width_bias_px": round(r["width bias px"], 3)}
         for r in top.to_dict("records")}, indent=1))


if __name__ == "__main__":
    main()
