"""Write the built-in synthetic data set in the exact AI-Hub layout, plus hair ground truth.

Layout written under ``out_dir`` (see :mod:`scalpvision.data.layout`)::

    Training|Validation/01.원천데이터/[원천]<n>.<condition>_<g>.<grade>/<name>.jpg
    Training|Validation/02.라벨링데이터/[라벨]<n>.<condition>_<g>.<grade>/<name>.json
    ground_truth/masks/<stem>.png     lossless hair mask (0/255)
    ground_truth/images.csv           image_file_name, hair_count, mask_share, widths summary
    ground_truth/hairs.csv            one row per drawn hair (width_px, length_px, angle_deg, ...)

Label tuples are drawn from the real AI-Hub joint frequencies (``resources/aihub_joint_counts.csv``),
so the imbalance of the real set is kept. Each image is filed under the folder of its most severe
condition and, for a share of images, under a second one too, as AI-Hub does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from scalpvision.data import layout
from scalpvision.data.synthetic import SessionStyle, render_scalp
from scalpvision.errors import BadInputError
from scalpvision.io import write_image, write_mask

log = logging.getLogger(__name__)
_EPOCH0 = 1_600_000_000_000
_SERIAL_CHARS = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))


def load_label_prior() -> pd.DataFrame:
    """Joint frequencies of (value_1..value_6) in the real AI-Hub tables, de-duplicated."""
    with resources.files("scalpvision.data").joinpath("resources/aihub_joint_counts.csv").open() as f:
        return pd.read_csv(f)


@dataclass(frozen=True)
class PlannedImage:
    index: int
    session: int
    split_dir: str
    file_name: str
    values: dict[str, int]
    filings: tuple[tuple[int, int], ...]  # (condition, grade) folders the image is filed under


def plan_dataset(n_images: int, seed: int, images_per_session: int = 5,
                 validation_share: float = 0.3,
                 second_filing_share: float = 0.35) -> list[PlannedImage]:
    """Decide names, labels, subject sessions and folder filings for ``n_images`` images."""
    if n_images < 1:
        raise BadInputError(f"n_images must be >= 1, got {n_images}")
    rng = np.random.default_rng([seed, 1])
    prior = load_label_prior()
    probs = prior["count"].to_numpy(float) / prior["count"].sum()
    tuples = prior[list(layout.VALUE_COLUMNS)].to_numpy(int)
    n_sessions = -(-n_images // images_per_session)
    n_subjects = max(1, int(round(n_sessions / 1.5)))  # some subjects come back for a 2nd session
    subjects = [
        (f"{rng.integers(1, 9999):04d}", "A2" + "".join(rng.choice(_SERIAL_CHARS, 13)))
        for _ in range(n_subjects)
    ]
    subject_split = {i: ("Validation" if rng.uniform() < validation_share else "Training")
                     for i in range(n_subjects)}
    plans: list[PlannedImage] = []
    for s in range(n_sessions):
        subj = s % n_subjects
        code, serial = subjects[subj]
        epoch = _EPOCH0 + int(rng.integers(0, 60 * 86_400_000))
        base = tuples[rng.choice(len(tuples), p=probs)]
        for k in range(images_per_session):
            if len(plans) == n_images:
                break
            # half the images keep the session's tuple, the rest are drawn afresh: each image's
            # marginal is still exactly the real joint distribution
            vals = base if rng.uniform() < 0.5 else tuples[rng.choice(len(tuples), p=probs)]
            values = {c: int(x) for c, x in zip(layout.VALUE_COLUMNS, vals)}
            position = 2 + k % 5
            name = layout.make_file_name(code, serial, epoch + 1500 * k, position)
            plans.append(PlannedImage(len(plans), s, subject_split[subj], name, values,
                                      _filings(values, rng, second_filing_share)))
    return plans


def _filings(values: dict[str, int], rng, second_share: float) -> tuple[tuple[int, int], ...]:
    grades = np.array([values[c] for c in layout.VALUE_COLUMNS])
    order = np.argsort(-grades, kind="stable") + 1  # most severe condition first
    if grades.max() == 0:
        order = rng.permutation(6) + 1
    first = (int(order[0]), int(grades[order[0] - 1]))
    if rng.uniform() < second_share:
        return first, (int(order[1]), int(grades[order[1] - 1]))
    return (first,)


def _render_one(args: tuple[PlannedImage, int, int, int]) -> tuple[PlannedImage, object]:
    plan, seed, width, height = args
    style = SessionStyle.sample(np.random.default_rng([seed, 2, plan.session]))
    rng = np.random.default_rng([seed, 3, plan.index])
    return plan, render_scalp(plan.values, rng, style, width, height)


def iter_rendered(plans: list[PlannedImage], seed: int, width: int = 640, height: int = 480,
                  workers: int = 1) -> Iterator[tuple[PlannedImage, object]]:
    jobs = [(p, seed, width, height) for p in plans]
    if workers <= 1:
        yield from map(_render_one, jobs)
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from pool.map(_render_one, jobs, chunksize=8)


def write_dataset(out_dir: str | Path, plans: list[PlannedImage], seed: int,
                  width: int = 640, height: int = 480, jpeg_quality: int = 92,
                  workers: int = 1, progress: Callable | None = None) -> dict:
    """Render ``plans`` and write the AI-Hub tree plus ground truth; returns a summary dict."""
    out = Path(out_dir)
    gt = out / "ground_truth"
    image_rows, hair_rows = [], []
    it = iter_rendered(plans, seed, width, height, workers)
    if progress is not None:
        it = progress(it, total=len(plans))
    for plan, r in it:
        label = {"image_id": Path(plan.file_name).stem, "image_file_name": plan.file_name,
                 **{k: str(v) for k, v in plan.values.items()}}
        first_path = None
        for cond, grade in plan.filings:
            img_path = (out / plan.split_dir / layout.IMAGE_ROOT
                        / layout.condition_folder("image", cond, grade) / plan.file_name)
            if first_path is None:
                write_image(img_path, r.image, quality=jpeg_quality)
                first_path = img_path
            else:  # the same bytes filed twice, as AI-Hub does
                img_path.parent.mkdir(parents=True, exist_ok=True)
                img_path.write_bytes(first_path.read_bytes())
            lab_path = (out / plan.split_dir / layout.LABEL_ROOT
                        / layout.condition_folder("label", cond, grade)
                        / (Path(plan.file_name).stem + ".json"))
            lab_path.parent.mkdir(parents=True, exist_ok=True)
            lab_path.write_text(json.dumps(label, ensure_ascii=False, indent=1), encoding="utf-8")
        stem = Path(plan.file_name).stem
        write_mask(gt / "masks" / f"{stem}.png", r.mask)
        widths = np.array([h["width_px"] for h in r.hairs if h["counted"]])
        image_rows.append({
            "image_file_name": plan.file_name, "hair_count": r.hair_count,
            "mask_share": round(float(r.mask.mean()), 5),
            "mean_width_px": round(float(widths.mean()), 3) if len(widths) else 0.0,
            "median_width_px": round(float(np.median(widths)), 3) if len(widths) else 0.0,
            **plan.values,
        })
        for i, hair in enumerate(r.hairs):
            hair_rows.append({"image_file_name": plan.file_name, "hair_id": i, **hair})
    gt.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(image_rows).to_csv(gt / "images.csv", index=False)
    pd.DataFrame(hair_rows).to_csv(gt / "hairs.csv", index=False)
    return {"images": len(plans), "filings": sum(len(p.filings) for p in plans),
            "hairs": len(hair_rows), "sessions": len({p.session for p in plans})}


def render_dataset(p, out_dir: str | Path, progress: Callable | None = None
                   ) -> tuple[dict, list[PlannedImage]]:
    """Plan and write the whole data set of ``render`` settings ``p`` (a ``RenderParams``) into
    ``out_dir``; the stage and ``scalpvision render`` both call this. Returns (summary, plans)."""
    plans = plan_dataset(p.n_images, p.seed, p.images_per_session, p.validation_share,
                         p.second_filing_share)
    return write_dataset(out_dir, plans, p.seed, p.width, p.height, p.jpeg_quality, p.workers,
                         progress=progress), plans
