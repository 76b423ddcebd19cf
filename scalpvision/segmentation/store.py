"""Building the hair segmenter from its parts: a U²-Net model directory (explicit, the MLflow
registry's champion, or the pipeline's last trained one) and the ``segment`` settings."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from scalpvision.errors import MissingInputError

log = logging.getLogger(__name__)


def resolve_segmenter_dir(explicit: str, registered_name: str, fallback: str | Path,
                          tracking=None, alias: str = "champion") -> tuple[Path, str]:
    """(model directory, where it came from): ``explicit`` when given; else the registry's
    ``registered_name@alias`` when ``tracking`` (``TrackingParams``) reaches one; else the
    ``fallback`` directory. Nothing found is a :class:`MissingInputError`."""
    if explicit:
        p = Path(explicit)
        if not (p / "config.json").is_file():
            raise MissingInputError(f"{p}: not a model directory (no config.json)")
        return p, f"model directory {p}"
    fallback = Path(fallback)
    if tracking is not None:
        import mlflow
        from mlflow.exceptions import MlflowException

        from scalpvision.ops.tracking import setup_mlflow

        setup_mlflow(tracking)
        uri = f"models:/{registered_name}@{alias}"
        try:
            local = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tempfile.mkdtemp(prefix="sv-seg-")))
        except MlflowException as exc:  # no such model or alias yet: the fallback, said so
            log.info("no registered %s (%s); using %s", uri, exc, fallback)
        else:
            model_dir = next((p.parent for p in sorted(local.rglob("config.json"))), None)
            if model_dir is not None:
                return model_dir, f"registry {uri}"
    if (fallback / "config.json").is_file():
        return fallback, f"model directory {fallback} (no registered {alias})"
    raise MissingInputError(f"no segmenter: no registered {alias} and no {fallback}/config.json;"
                            " run `dvc repro u2net` or pass --model DIR")


def segmenter_for(model, s, long_side: int):
    """The :class:`HairSegmenter` around a U²-Net ``model`` in memory, with ``segment``
    settings ``s`` (a ``SegmentParams``)."""
    from scalpvision.segmentation.refiners import make_refiner
    from scalpvision.segmentation.runtime import inference_model
    from scalpvision.segmentation.segmenter import HairSegmenter

    return HairSegmenter(inference_model(model, s.u2net_runtime), make_refiner(s.refiner),
                         s.prompts, s.ensemble, s.boundary, long_side)


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
