"""Building the hair segmenter from its parts: a U²-Net model directory (explicit, the MLflow
registry's champion, or the pipeline's last trained one) and the ``segment`` settings."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from scalpvision.errors import MissingInputError

log = logging.getLogger(__name__)


def resolve_segmenter_dir(explicit: str, registered_name: str, fallback: str | Path,
                          tracking=None, alias: str = "champion") -> tuple[Path, str]:
    """The U²-Net model directory (see :func:`~scalpvision.ops.registry.resolve_model_dir`)."""
    from scalpvision.ops.registry import resolve_model_dir

    return resolve_model_dir(explicit, registered_name, fallback, tracking, alias,
                             what="segmenter", hint="run `dvc repro u2net`")


def segmenter_for(model, s, long_side: int):
    """The :class:`HairSegmenter` around a U²-Net ``model`` in memory, with ``segment``
    settings ``s`` (a ``SegmentParams``)."""
    from scalpvision.segmentation.refiners import make_refiner
    from scalpvision.segmentation.runtime import inference_model
    from scalpvision.segmentation.segmenter import HairSegmenter

    return HairSegmenter(inference_model(model, s.u2net_runtime), make_refiner(s.refiner),
                         s.prompts, s.ensemble, s.boundary, long_side, s.strokes)


def build_segmenter(model_dir: str | Path, s):
    """The :class:`HairSegmenter` of a model directory and ``segment`` settings (a
    ``SegmentParams``); returns (segmenter, the model directory's config)."""
    from scalpvision.ops.checkpoints import load_model_dir

    model, cfg = load_model_dir(model_dir)
    return segmenter_for(model, s, cfg["preprocessing"]["infer_long_side"]), cfg


def load_segmenter_unit(model_dir: Path, segment_config: Path, **overrides):
    """Rebuild a :class:`HairSegmenter` from a model directory and a ``segment.json`` (the
    ``segment`` settings it was registered with); ``overrides`` replace whole sub-sections."""
    from dataclasses import replace

    from scalpvision.config import SegmentParams, from_dict

    s = from_dict(SegmentParams, json.loads(Path(segment_config).read_text()),
                  str(segment_config))
    return build_segmenter(model_dir, replace(s, **overrides))[0]


def load_logged_segmenter(model_path: Path, **overrides):
    """The :class:`HairSegmenter` inside a logged/registered segmenter's MLflow model directory
    (downloaded, or imported into a BentoML store): its artifacts hold the U²-Net model
    directory (``config.json``) and ``segment.json``."""
    model_path = Path(model_path)
    cfg = next(iter(sorted(model_path.rglob("config.json"))), None)
    seg = next(iter(sorted(model_path.rglob("segment.json"))), None)
    if cfg is None or seg is None:
        raise MissingInputError(f"{model_path}: no config.json/segment.json inside "
                                "(not a logged ScalpVision segmenter)")
    return load_segmenter_unit(cfg.parent, seg, **overrides)
