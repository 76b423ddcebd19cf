"""Stage `pseudo`: hair-free patches (train split + unlabelled real images) -> pseudo pairs."""

import argparse
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.errors import MissingInputError
from scalpvision.io import ImageReadError, list_images, read_image, write_image, write_mask
from scalpvision.segmentation.pseudo_pairs import (
    PatchFilter, collect_patches, iter_pseudo_pairs,
)
from scalpvision.ops.tracking import stage_run
from scalpvision.viz import contact_sheet, overlay_mask

log = logging.getLogger("pseudo")


def _sources(p):
    man = pd.read_csv(p.manifest)
    train = man[man["split"] == "train"]["path"].tolist()
    rng = np.random.default_rng(p.seed)
    train = [train[i] for i in np.sort(rng.permutation(len(train))[:p.max_source_images])]
    used, missing, unlabelled = [], [], []
    for d in p.unlabelled_dirs:
        if not Path(d).is_dir():
            if not p.skip_missing_unlabelled:
                raise MissingInputError(
                    f"{d}: unlabelled image folder not found (pseudo.unlabelled_dirs)")
            log.warning("unlabelled image folder %s not found; skipped", d)
            missing.append(d)
            continue
        files = list_images([d])
        unlabelled += [files[i] for i in np.sort(rng.permutation(len(files))[:p.max_source_images])]
        used.append(d)
    return [("train", f) for f in train] + [("unlabelled", f) for f in unlabelled], used, missing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.pseudo
    tracking = P.tracking
    out = Path(p.out_dir)
    if out.exists():
        shutil.rmtree(out)
    with stage_run("pseudo", {"pseudo": as_dict(p)}, tracking, deps=[p.manifest]) as _:
        import mlflow

        sources, used, missing = _sources(p)
        bad = []

        def images():
            for kind, f in tqdm(sources, desc="patches", unit="img"):
                try:
                    yield f"{kind}:{f}", read_image(f)
                except ImageReadError as exc:  # reported, never fatal for the batch
                    bad.append(str(exc))
        filt = PatchFilter(max_ridge_share=p.max_ridge_share, ridge_threshold=p.ridge_threshold)
        patches = collect_patches(images(), (p.patch_width, p.patch_height),
                                  p.patches_per_image, filt)
        rng = np.random.default_rng(p.seed)
        rows, sheet = [], []
        n_val = int(round(p.n_pairs * p.val_share))
        pairs = iter_pseudo_pairs(patches, p.n_pairs, rng, (640, 480), p.draw)
        for i, (img, mask, k, n) in enumerate(tqdm(pairs, total=p.n_pairs, desc="pairs")):
            name = f"pseudo_{i:05d}"
            write_image(out / "images" / f"{name}.jpg", img, quality=95)
            write_mask(out / "masks" / f"{name}.png", mask)
            src, box = patches[k][1], patches[k][2]
            rows.append({"id": name, "image": str(out / "images" / f"{name}.jpg"),
                         "mask": str(out / "masks" / f"{name}.png"),
                         "source": src.split(":", 1)[1], "source_kind": src.split(":", 1)[0],
                         "patch_xyxy": ",".join(map(str, box)), "n_hairs": n,
                         "split": "val" if i >= p.n_pairs - n_val else "train"})
            if len(sheet) < 8:
                sheet.append(overlay_mask(img, mask, alpha=0.35) if len(sheet) % 2 else img)
        pd.DataFrame(rows).to_csv(out / "pairs.csv", index=False)
        kinds = pd.Series([s[1].split(":")[0] for s in patches]).value_counts().to_dict()
        stats = {"pairs": len(rows), "patches": len(patches),
                 "patches_train": int(kinds.get("train", 0)),
                 "patches_unlabelled": int(kinds.get("unlabelled", 0)),
                 "unreadable_sources": len(bad)}
        Path("reports/segmentation").mkdir(parents=True, exist_ok=True)
        write_image("reports/segmentation/pseudo_pairs.jpg", contact_sheet(sheet, cols=4), 90)
        mlflow.log_metrics({k: float(v) for k, v in stats.items()})
        mlflow.set_tags({"unlabelled_dirs_used": ",".join(used) or "none",
                         "unlabelled_dirs_missing": ",".join(missing) or "none"})
        mlflow.log_artifact("reports/segmentation/pseudo_pairs.jpg")
        for b in bad:
            print(f"unreadable source image: {b}")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/pseudo.json").write_text(json.dumps(stats, indent=1))
    print(f"pseudo pairs: {stats}")


if __name__ == "__main__":
    run_main(main)
