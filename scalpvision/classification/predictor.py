"""A trained classifier as a directory, and the numpy-facing predictor that serves it.

``config.json`` holds the model params (builder arguments), the normalisation, the presence
gate and the record of training; ``weights.pt`` the state dict, loaded with
``weights_only=True``. One :func:`load_classifier_dir` serves evaluation, the CLI, the registry
and the service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scalpvision.classification.data import Normalisation, letterbox
from scalpvision.classification.model import CONDITIONS, FourHeadNet, build_classifier, predict_proba
from scalpvision.classification.params import ClassifierModelParams
from scalpvision.errors import MissingInputError


def save_classifier_dir(out: Path, model: FourHeadNet, mp: ClassifierModelParams,
                        norm: Normalisation, gate: float, record: dict) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "weights.pt")
    (out / "config.json").write_text(json.dumps(
        {"builder": "four_head", "model": {**vars(mp), "checkpoint": ""},
         "normalisation": norm.to_dict(), "presence_gate": gate, "conditions": list(CONDITIONS),
         "record": record}, indent=1, default=str))
    return out


class ClassifierPredictor:
    """``predict(images: list of (H, W, 3) uint8 RGB) -> probabilities`` in
    :func:`~scalpvision.classification.model.predict_proba`'s format."""

    def __init__(self, model: FourHeadNet, image_size: int, norm: Normalisation, gate: float,
                 config: dict):
        self.model, self.image_size, self.norm, self.gate = model.eval(), image_size, norm, gate
        self.config = config

    def tensor(self, images) -> torch.Tensor:
        sq = [letterbox(im, self.image_size) for im in images]
        return self.norm.apply(np.stack([s for s, _ in sq]), np.stack([p for _, p in sq]))

    def predict(self, images) -> dict[str, np.ndarray]:
        return predict_proba(self.model, self.tensor(images))


def load_classifier_dir(path: Path) -> ClassifierPredictor:
    path = Path(path)
    if not (path / "config.json").is_file() or not (path / "weights.pt").is_file():
        raise MissingInputError(f"{path}: not a classifier directory (config.json + weights.pt)")
    cfg = json.loads((path / "config.json").read_text())
    mp = ClassifierModelParams(**cfg["model"])
    model, _ = build_classifier(mp)
    model.load_state_dict(torch.load(path / "weights.pt", weights_only=True))
    return ClassifierPredictor(model, mp.image_size, Normalisation(
        **{k: tuple(v) for k, v in cfg["normalisation"].items()}), cfg["presence_gate"], cfg)


def prediction_rows(predictor: "ClassifierPredictor", images, names) -> list[dict]:
    """One dict per image: ``path``, ``<condition>_grade`` (presence-gated),
    ``<condition>_presence`` and ``<condition>_p0..p3``."""
    from scalpvision.classification.metrics import grades_from_proba

    proba = predictor.predict(images)
    grades = grades_from_proba(proba, predictor.gate)
    return [{"path": str(n),
             **{f"{c}_grade": int(grades[i, k]) for k, c in enumerate(CONDITIONS)},
             **{f"{c}_presence": float(proba["presence"][i, k]) for k, c in enumerate(CONDITIONS)},
             **{f"{c}_p{g}": float(proba[c][i, g]) for c in CONDITIONS for g in range(4)}}
            for i, n in enumerate(names)]


@dataclass
class ClassifyShards:
    """``scalpvision classify`` over many images as a shard task
    (:mod:`scalpvision.ops.engine`): the model directory is loaded once per worker; a shard
    gives one row per image, an unreadable file a row with its reason."""
    model_dir: str
    batch: int
    threads: int

    def setup(self) -> None:
        import torch

        torch.set_num_threads(self.threads)
        self._pred = load_classifier_dir(Path(self.model_dir))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_pred"}

    def run(self, items: list, out_dir: Path, start: int) -> dict:
        from scalpvision.io import ImageReadError, iter_images

        rows, batch = [], []

        def flush():
            if not batch:
                return
            for r in prediction_rows(self._pred, [im for _, im in batch], [p for p, _ in batch]):
                rows.append({**r, "status": "ok", "detail": ""})
            batch.clear()

        for path, im in iter_images(items):
            if isinstance(im, ImageReadError):
                flush()
                rows.append({"path": str(path), "status": "unreadable", "detail": str(im)})
                continue
            batch.append((path, im))
            if len(batch) >= self.batch:
                flush()
        flush()
        return {"rows": rows, "gate": self._pred.gate}
