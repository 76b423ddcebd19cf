"""Where the hair segmenter's model directory comes from: an explicit path, the MLflow
registry's ``champion`` alias, or the pipeline's last trained model."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def resolve_segmenter_dir(explicit: str = "", params_path: str = "params.yaml") -> tuple[Path, str]:
    """Return (model directory, a description of where it came from)."""
    if explicit:
        p = Path(explicit)
        if not (p / "config.json").is_file():
            raise FileNotFoundError(f"{p}: not a model directory (no config.json)")
        return p, f"model directory {p}"
    from scalpvision.config import ConfigError, load_section

    try:
        u = load_section("u2net", params_path)
        tracking = load_section("tracking", params_path)
        name, fallback = u.register_name, Path(u.out_dir)
    except ConfigError:
        tracking, name, fallback = None, "scalpvision-hair-segmenter", Path("models/u2net")
    if tracking is not None:
        try:
            import mlflow

            from scalpvision.tracking import setup_mlflow

            setup_mlflow(tracking)
            uri = f"models:/{name}@champion"
            dst = Path(tempfile.mkdtemp(prefix="sv-seg-"))
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))
            model_dir = next((p.parent for p in local.rglob("config.json")), None)
            if model_dir is not None:
                return model_dir, f"registry {uri}"
        except Exception as exc:  # no registry / no champion yet: fall back, and say so
            log.info("no registered champion segmenter (%s); using %s", exc, fallback)
    if (fallback / "config.json").is_file():
        return fallback, f"model directory {fallback} (no registered champion)"
    raise FileNotFoundError(f"no segmenter: no registered champion and no {fallback}/config.json; "
                            "run `dvc repro u2net` or pass --model DIR")


def segmenter_for(model, s, long_side: int):
    """The :class:`HairSegmenter` around a U²-Net ``model`` in memory, with ``segment``
    settings (a ``SegmentParams``): its U²-Net runtime, refiner, prompt parameters and ensemble
    settings."""
    from scalpvision.segmentation.boundary import BoundaryParams
    from scalpvision.segmentation.evaluation import prompt_params_from
    from scalpvision.segmentation.refiners import make_refiner
    from scalpvision.segmentation.runtime import inference_model
    from scalpvision.segmentation.segmenter import HairSegmenter

    refiner = make_refiner(s.refiner, s.sam_model, s.sam_checkpoint, s.grabcut_iterations)
    boundary = BoundaryParams(s.boundary_band, s.boundary_grow, s.boundary_window)
    return HairSegmenter(inference_model(model, s.u2net_runtime), refiner, prompt_params_from(s),
                         s.ensemble_min_area, long_side, s.ensemble_threshold, boundary)


def build_segmenter(model_dir: str | Path, s):
    """The :class:`HairSegmenter` of a model directory and ``segment`` settings (a
    ``SegmentParams``); returns (segmenter, the model directory's config)."""
    from scalpvision.checkpoints import load_model_dir

    model, cfg = load_model_dir(model_dir)
    return segmenter_for(model, s, cfg["preprocessing"]["infer_long_side"]), cfg


def load_segmenter_unit(model_dir: Path, segment_config: Path | None = None, **overrides):
    """Rebuild a :class:`HairSegmenter` from a model directory and a segment.json."""
    import json

    from scalpvision.config import SegmentParams

    seg_cfg = json.loads(segment_config.read_text()) if segment_config else {}
    return build_segmenter(model_dir, SegmentParams(**{**seg_cfg, **overrides}))[0]


def load_logged_segmenter(model_path: Path, **overrides):
    """The :class:`HairSegmenter` inside a logged/registered segmenter's MLflow model directory
    (downloaded, or imported into a BentoML store): its artifacts hold the U²-Net model
    directory (``config.json``) and ``segment.json``."""
    model_path = Path(model_path)
    cfg = next(iter(sorted(model_path.rglob("config.json"))), None)
    seg = next(iter(sorted(model_path.rglob("segment.json"))), None)
    if cfg is None or seg is None:
        raise FileNotFoundError(f"{model_path}: no config.json/segment.json inside "
                                "(not a logged ScalpVision segmenter)")
    return load_segmenter_unit(cfg.parent, seg, **overrides)
