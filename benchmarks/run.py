"""Speed and memory of each segmentation step at 640x480 on this CPU; prints a markdown table.

    .venv/bin/python benchmarks/run.py [--repeats 5] [--sam vit_b] [--only u2net_lite,prompts]

Each step runs in a fresh process so its peak resident memory (ru_maxrss) is its own;
"ΔRSS" subtracts that process's resident size just before the step (imports, inputs).
Weights are random (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from dataclasses import replace

import numpy as np

from scalpvision.config import load_params

PARAMS = load_params()  # the pipeline's settings: benchmarks time what the pipeline runs

STEPS = ["u2net_lite", "u2net_lite_onnxruntime", "u2net_full", "u2net_full_onnxruntime",
         "prompts", "grabcut", "sam_tiny", "sam_vit", "ensemble", "strokes", "boundary",
         "baseline_yue", "thickness", "thickness_exits", "thickness_reference_walk",
         "thickness_reference_full", "thickness_reference_literal", "count_strands", "count_hough",
         "hair_features"]


def _scene():
    from scalpvision.data.synthetic import render_scalp
    r = render_scalp({f"value_{i}": 0 for i in range(1, 7)}, np.random.default_rng(0))
    return r.image, r.mask


def _reference_thickness(mask: np.ndarray) -> np.ndarray:
    """The reference's thickness procedure as a straightforward re-implementation (§5): filter,
    skeleton, 20-px boxes + NMS, then per box a Python loop - PCA of the box's skeleton pixels
    (np.cov + eigh) and the 0.01-px walk along the perpendicular. Like-for-like with
    ``measure_thickness``, which does the same steps vectorised (our skeleton and NMS)."""
    from scalpvision.features.thickness import ThicknessParams
    from scalpvision.morphology import (
        box_nms_points, remove_small_components, skeletonize,
    )
    p = ThicknessParams()
    m = remove_small_components(mask, p.min_area)
    return _per_box_walk(mask, remove_small_components(skeletonize(m), p.min_skeleton_area),
                         box_nms_points, p)


def _per_box_walk(mask: np.ndarray, skel: np.ndarray, nms, p) -> np.ndarray:
    """Boxes round the skeleton pixels, ``nms``, then per kept box a Python loop: PCA of its
    skeleton pixels and the reference's 0.01-px walk along the perpendicular."""
    from scalpvision.features.thickness import reference_walk_widths
    ys, xs = np.nonzero(skel)
    pts = np.stack([xs, ys], 1).astype(float)
    out = []
    for cx, cy in pts[nms(pts, p.box, p.nms_overlap)]:
        x0, y0 = int(cx) - p.box // 2, int(cy) - p.box // 2
        by, bx = np.nonzero(skel[max(y0, 0):y0 + p.box, max(x0, 0):x0 + p.box])
        if len(bx) < p.min_box_pixels:
            continue
        xy = np.stack([bx + max(x0, 0), by + max(y0, 0)], 1).astype(float)
        vals, vecs = np.linalg.eigh(np.cov(xy.T, bias=True))
        angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
        out.append(reference_walk_widths(mask, xy.mean(0)[None], np.array([angle]))[0])
    return np.asarray(out)


def _lantuejoul_skeleton(mask: np.ndarray) -> np.ndarray:
    """The reference's skeleton (reference-method.md §4.1 step 3): with a 3x3 cross, repeat
    skel |= A - open(A); A = erode(A) until A is empty."""
    import cv2
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    a = mask.astype(np.uint8)
    skel = np.zeros_like(a)
    while a.any():
        eroded = cv2.erode(a, cross)
        skel |= a & ~cv2.dilate(eroded, cross) & 1
        a = eroded
    return skel.astype(bool)


def _malisiewicz_nms(points_xy: np.ndarray, box: int, overlap: float) -> np.ndarray:
    """The reference's "fast NMS" as commonly written (§4.1 step 6): boxes sorted by y2, pick the
    last, delete every box overlapping it by more than ``overlap`` of the other box's area."""
    half = box / 2
    x1, y1 = points_xy[:, 0] - half, points_xy[:, 1] - half
    x2, y2 = points_xy[:, 0] + half, points_xy[:, 1] + half
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    idxs, pick = np.argsort(y2, kind="stable"), []
    while len(idxs):
        i = idxs[-1]
        pick.append(i)
        rest = idxs[:-1]
        w = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        idxs = rest[(w * h) / area[rest] <= overlap]
    return np.asarray(pick, int)


def _reference_thickness_literal(mask: np.ndarray) -> np.ndarray:
    """The reference's procedure with its own parts (§5): its morphological skeleton and its
    NMS instead of ours, then the same per-box PCA and 0.01-px walk as
    :func:`_reference_thickness`. A different skeleton gives different boxes, so this times the
    reference as written rather than the same boxes."""
    from scalpvision.features.thickness import ThicknessParams
    from scalpvision.morphology import remove_small_components
    p = ThicknessParams()
    m = remove_small_components(mask, p.min_area)
    skel = remove_small_components(_lantuejoul_skeleton(m), p.min_skeleton_area)
    return _per_box_walk(mask, skel, _malisiewicz_nms, p)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _step(name: str, repeats: int, sam_variant: str, q) -> None:
    import torch
    torch.set_num_threads(2)
    from scalpvision.segmentation.prompts import make_prompts
    img, mask = _scene()
    prob = mask.astype(np.float32)
    prompts = make_prompts(prob, replace(PARAMS.segment.prompts, max_positive=64))
    if name.startswith("u2net"):
        from scalpvision.segmentation.runtime import inference_model
        from scalpvision.segmentation.inference import predict_prob
        from scalpvision.segmentation.u2net import build_u2net
        m = build_u2net(name.split("_")[1]).eval()
        m = inference_model(m, "onnxruntime") if name.endswith("onnxruntime") else m
        fn = lambda: predict_prob(m, img, 640)  # noqa: E731
    elif name == "prompts":
        fn = lambda: make_prompts(prob, replace(PARAMS.segment.prompts, max_positive=64))  # noqa: E731
    elif name == "grabcut":
        from scalpvision.segmentation.refiners import GrabCutRefiner
        g = GrabCutRefiner()
        fn = lambda: g.refine(img, prompts, mask)  # noqa: E731
    elif name.startswith("sam"):
        from scalpvision.segmentation.refiners import SamRefiner, tiny_sam
        if name == "sam_tiny":
            sam = tiny_sam()
        else:
            from segment_anything import sam_model_registry
            sam = sam_model_registry[sam_variant](checkpoint=None).eval()
        r = SamRefiner(sam)
        fn = lambda: r.refine(img, prompts, mask)  # noqa: E731
        repeats = min(repeats, 2) if name == "sam_vit" else repeats
    elif name == "ensemble":
        from scalpvision.segmentation.segmenter import ensemble
        fn = lambda: ensemble(mask, mask, 100)  # noqa: E731
    elif name == "strokes":  # the line strokes at the demo's settings, whole frame analysed
        from scalpvision.segmentation.strokes import line_strokes
        whole = np.ones(img.shape[:2], bool)
        fn = lambda: line_strokes(img, whole, PARAMS.segment.strokes)  # noqa: E731
    elif name == "boundary":  # the step after the AND, at the demo's sizes, on a 1-px-wide mask
        import cv2

        from scalpvision.segmentation.boundary import refine_boundary
        wide = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        fn = lambda: refine_boundary(img, wide, PARAMS.segment.boundary)  # noqa: E731
    elif name == "thickness":
        from scalpvision.features.thickness import measure_thickness
        fn = lambda: measure_thickness(mask)  # noqa: E731
    elif name == "thickness_exits":  # the vectorised exits alone, on the walk's boxes
        from scalpvision.features.thickness import cross_section_widths, measure_thickness
        r = measure_thickness(mask)
        theta = np.radians(r.angles_deg)
        fn = lambda: cross_section_widths(mask, r.centers_xy, theta)  # noqa: E731
    elif name == "thickness_reference_walk":  # same boxes, the reference's 0.01-px Python walk
        from scalpvision.features.thickness import measure_thickness, reference_walk_widths
        r = measure_thickness(mask)
        fn = lambda: reference_walk_widths(mask, r.centers_xy, r.angles_deg)  # noqa: E731
        repeats = min(repeats, 5)
    elif name == "thickness_reference_full":  # the whole reference procedure, plainly written
        fn = lambda: _reference_thickness(mask)  # noqa: E731
        repeats = min(repeats, 5)
    elif name == "thickness_reference_literal":  # the reference with its own skeleton and NMS
        fn = lambda: _reference_thickness_literal(mask)  # noqa: E731
        repeats = min(repeats, 3)
    elif name.startswith("count_"):
        from scalpvision.features.count import count_hairs
        cp = replace(PARAMS.features.count, method=name.split("_")[1])
        fn = lambda: count_hairs(mask, cp)  # noqa: E731
    elif name == "hair_features":  # thickness + count sharing one thinning (what stages run)
        from scalpvision.features.table import hair_features
        fn = lambda: hair_features(mask, count=PARAMS.features.count)  # noqa: E731
    elif name == "baseline_yue":
        from scalpvision.segmentation.baselines import blackhat_morphology
        fn = lambda: blackhat_morphology(img)  # noqa: E731
    else:
        raise ValueError(name)
    before = _rss_mb()
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put((name, float(np.median(times)), peak, peak - before))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sam", default="vit_b", help="SAM size for the sam_vit row")
    ap.add_argument("--only", default="", help="comma-separated subset of " + ",".join(STEPS))
    args = ap.parse_args()
    steps = args.only.split(",") if args.only else STEPS
    ctx = mp.get_context("spawn")
    rows = []
    for s in steps:
        q = ctx.Queue()
        p = ctx.Process(target=_step, args=(s, args.repeats, args.sam, q))
        p.start()
        rows.append(q.get())
        p.join()
    print("| step (640x480, CPU, 2 threads) | seconds / image (median) | peak RSS MB | ΔRSS MB |")
    print("|---|---|---|---|")
    times = {}
    for name, t, peak, delta in rows:
        times[name] = t
        label = f"sam_{args.sam} (random weights)" if name == "sam_vit" else name
        print(f"| {label} | {t:.4f} | {peak:.0f} | {delta:.0f} |")
    if "thickness_exits" in times and "thickness_reference_walk" in times:
        print(f"\nwidth step alone, vectorised exits vs the reference-style 0.01-px walk "
              f"(same boxes): {times['thickness_reference_walk'] / times['thickness_exits']:.0f}x")
    if "thickness" in times and "thickness_reference_walk" in times:
        print(f"whole thickness vs the reference-style 0.01-px walk alone: "
              f"{times['thickness_reference_walk'] / times['thickness']:.0f}x")
    if "thickness" in times and "thickness_reference_full" in times:
        print("whole thickness vs the whole reference-style procedure (both thin, box and PCA): "
              f"{times['thickness_reference_full'] / times['thickness']:.0f}x")
    if "thickness" in times and "thickness_reference_literal" in times:
        print("whole thickness vs the reference as written (its skeleton and NMS, its boxes): "
              f"{times['thickness_reference_literal'] / times['thickness']:.0f}x")


if __name__ == "__main__":
    from _report import reported

    with reported("run"):
        main()
