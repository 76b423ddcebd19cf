"""The ``features`` stage's per-image work as a shard task (:mod:`scalpvision.ops.engine`):
one row of the feature table per image that has a mask, measured the same way on every
engine; an image without a mask or an unreadable file is recorded with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = ("value_1", "value_2", "value_3", "value_4", "value_5", "value_6",
          "dandruff", "sebum", "erythema", "alopecia")


def _plain(v):
    """A JSON-able Python value of a numpy scalar (shard records are JSON)."""
    return v.item() if isinstance(v, np.generic) else v


@dataclass
class FeatureShards:
    """``features`` settings ``p`` (a ``FeaturesParams``); items are manifest rows (dicts)."""
    p: object

    def setup(self) -> None:
        pass

    def run(self, items: list, out_dir: Path, start: int) -> dict:
        rows, missing, bad = [], [], []
        for r in items:
            try:
                row = self.row(r)
            except (OSError, ValueError) as exc:  # ImageReadError is a ValueError
                bad.append(str(exc))
                continue
            if row is None:
                missing.append(Path(r["path"]).stem)
            else:
                rows.append({k: _plain(v) for k, v in row.items()})
        return {"rows": rows, "missing": missing, "unreadable": bad}

    def row(self, r: dict) -> dict | None:
        """The feature row of manifest row ``r``, or None when it has no mask."""
        from scalpvision.features.table import hair_features
        from scalpvision.features.thickness import measure_thickness
        from scalpvision.io import read_image, read_mask
        from scalpvision.segmentation.area import analysed_area
        from scalpvision.segmentation.baselines import otsu_threshold

        p = self.p
        mpath = Path(p.masks_dir) / f"{Path(r['path']).stem}.png"
        if not mpath.is_file():
            return None
        row = {"image_id": r["image_id"], "path": r["path"], "split": r["split"],
               "group": r["group"], **{k: r[k] for k in LABELS if k in r}, "mask": str(mpath)}
        image = read_image(r["path"])
        area = analysed_area(image).mask  # the segmenter's masks lie inside it
        row.update(hair_features(read_mask(mpath), p.um_per_px, p.vellus_um,
                                 count=p.count, area=area, image=image))
        if p.baseline_otsu:
            w = measure_thickness(otsu_threshold(image)).widths
            row["otsu_mean_width"] = float(w.mean()) if len(w) else 0.0
        truth = r.get("mask_path")
        if isinstance(truth, str) and truth:
            gt = hair_features(read_mask(truth), count=p.count)  # its edge is the hair's
            row.update({f"gtmask_{k}": v for k, v in gt.items()})
            row.update(gt_hair_count=r["gt_hair_count"], gt_mean_width_px=r["gt_mean_width_px"])
        return row
