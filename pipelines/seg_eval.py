"""Stage `seg_eval`: segment the test split with the trained U²-Net + refiner + ensemble, score
every method against ground truth, run the prompt ablation, write tables and overlays, and
register the segmenter. It writes no masks: `hair_masks` owns them."""

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.errors import MissingInputError
from scalpvision.io import ImageReadError, list_images, read_image, read_mask, write_image
from scalpvision.ops.promotion import MANIFEST_TAG, manifest_hash
from scalpvision.ops.registry import register
from scalpvision.ops.tracking import git_revision, stage_run
from scalpvision.segmentation.evaluation import (
    average, evaluation_rows, markdown_table, score_image,
)
from scalpvision.segmentation.kind import segmentation_metrics
from scalpvision.segmentation.runtime import runtime_name
from scalpvision.segmentation.store import build_segmenter
from scalpvision.viz import contact_sheet, overlay_mask

log = logging.getLogger("seg_eval")


def _overlay(image, truth, res):
    """Green: M; red: ground truth missed by M (when known); small panel with M̂."""
    img = overlay_mask(image, res.final, (0, 255, 64), 0.55)
    if truth is not None:
        img = overlay_mask(img, truth & ~res.final, (255, 0, 0), 0.7)
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    e = P.seg_eval
    s = P.segment
    u = P.u2net
    tracking = P.tracking
    torch.set_num_threads(u.threads)
    seg, cfg = build_segmenter(u.out_dir, s)
    refiner = seg.refiner
    test = evaluation_rows(e)
    out = Path(e.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tags = {"refiner": refiner.name,
            "sam_model": s.refiner.sam_model if refiner.name == "sam" else "none",
            "u2net_variant": cfg["kwargs"]["variant"], "u2net_run": cfg.get("mlflow_run_id", ""),
            "u2net_runtime": runtime_name(seg.u2net)}
    with stage_run("seg_eval", {"segment": as_dict(s), "seg_eval": as_dict(e)}, tracking,
                   deps=[e.manifest, u.out_dir], tags=tags) as _:
        import mlflow

        per_image, ablation, timings, panels, caps, bad = [], [], [], [], [], []
        for i, r in enumerate(tqdm(list(test.itertuples()), desc="segment", unit="img")):
            try:
                image, truth = read_image(r.path), read_mask(r.mask_path)
            except ImageReadError as exc:
                bad.append(str(exc))
                continue
            do_abl = i < e.ablation_images
            scores, res = score_image(seg, image, truth, ablation=do_abl)
            main_scores = {k: v for k, v in scores.items() if not k.startswith("ablation")}
            per_image.append(main_scores)
            if do_abl:
                ablation.append({k: v for k, v in scores.items() if k.startswith("ablation")})
            timings.append(res.seconds)
            if len(panels) < e.n_overlays:
                panels.append(_overlay(image, truth, res))
                caps.append(f"{Path(r.path).stem[:22]} Dice M={scores['ensemble (M)']['dice']:.3f}")
        user_scores = []
        if e.user_image_dir or e.user_mask_dir:
            if not (Path(e.user_image_dir).is_dir() and Path(e.user_mask_dir).is_dir()):
                raise MissingInputError(f"seg_eval.user_image_dir={e.user_image_dir!r} and "
                                        f"user_mask_dir={e.user_mask_dir!r} must both be folders")
            masks = {m.stem: m for m in list_images([e.user_mask_dir])}
            for f in tqdm(list_images([e.user_image_dir]), desc="user", unit="img"):
                if f.stem not in masks:
                    bad.append(f"{f}: no ground-truth mask with stem {f.stem!r} in {e.user_mask_dir}")
                    continue
                try:
                    image, truth = read_image(f), read_mask(masks[f.stem])
                    if truth.shape != image.shape[:2]:
                        raise ImageReadError(f"{masks[f.stem]}: mask {truth.shape} != image "
                                             f"{image.shape[:2]}")
                except ImageReadError as exc:
                    bad.append(str(exc))
                    continue
                user_scores.append(score_image(seg, image, truth)[0])
        real_panels, real_caps = [], []
        for d in e.unlabelled_dirs:
            if not Path(d).is_dir():
                log.warning("unlabelled folder %s not found; no real-image overlays from it", d)
                continue
            files = list_images([d])
            for f in [files[k] for k in np.linspace(0, len(files) - 1, e.n_overlays).astype(int)]:
                image = read_image(f)
                _, res = score_image(seg, image, None)
                real_panels += [image, _overlay(image, None, res)]
                real_caps += [f"{f.name[:30]}", f"M ({res.final.mean():.1%} hair)"]
        avg, abl = average(per_image), average(ablation)
        table = markdown_table(avg, f"Hair segmentation on the built-in {e.split} split "
                                    f"(refiner: {refiner.name})")
        if abl:
            table += "\n" + markdown_table(abl, "Prompt ablation (paper Table 5)")
        if user_scores:
            table += "\n" + markdown_table(average(user_scores),
                                           f"User ground truth: {e.user_image_dir}")
        (out / "table.md").write_text(table)
        write_image(out / "overlays_test.jpg", contact_sheet(panels, caps, cols=3), 90)
        if not real_panels:  # the report always exists, and says why it is empty
            real_panels = [np.full((480, 640, 3), 255, np.uint8)]
            real_caps = ["no unlabelled image folder found (seg_eval.unlabelled_dirs)"]
        write_image(out / "overlays_unlabelled_real.jpg",
                    contact_sheet(real_panels, real_caps, cols=4), 90)
        version = register(
            "segmenter", (u.out_dir, as_dict(s)), u.register_name, segmentation_metrics(avg),
            {"refiner": refiner.name, "u2net_run": cfg.get("mlflow_run_id", ""),
             "data_hash": cfg.get("data_hash", ""), "eval_manifest": e.manifest,
             "eval_split": e.split, "eval_images": str(len(test)),
             MANIFEST_TAG: manifest_hash(test, ["image_id", "sha256", "mask_path"]),
             "git.commit": git_revision(Path("."))[0]})
        mean_t = {k: float(np.mean([t[k] for t in timings])) for k in timings[0]} if timings else {}
        metrics = {"refiner": refiner.name, "registered_version": version,
                   "images": len(per_image), "unreadable": len(bad),
                   **{f"{k}.{x}": round(v[x], 4) for k, v in avg.items()
                      for x in ("dice", "jaccard", "pixel_f1_macro")},
                   **{f"seconds.{k}": round(v, 4) for k, v in mean_t.items()}}
        clean = {k.replace(" ", "_").replace("(", "").replace(")", "").replace(":", "")
                 .replace("̂", "hat"): v for k, v in metrics.items() if not isinstance(v, str)}
        mlflow.log_metrics(clean)
        mlflow.log_artifacts(str(out), artifact_path="segmentation_report")
        mlflow.log_dict({"average": avg, "ablation": abl}, "segmentation_scores.json")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/segmentation.json").write_text(json.dumps(metrics, indent=1, ensure_ascii=False))
    print(table)
    for b in bad:
        print(f"unreadable: {b}")


if __name__ == "__main__":
    run_main(main)
