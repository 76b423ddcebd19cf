"""Typed parameters: ``params.yaml`` parsed into frozen dataclasses, one per stage section.

The library itself never reads ``params.yaml``; entry points (``pipelines/``, the CLI) call
:func:`load_section` and pass plain values on. An unknown or missing key fails at load time
with a message naming the file, the section and the valid keys.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A parameter file is missing, malformed, or has unknown/missing keys."""


@dataclass(frozen=True)
class TrackingParams:
    uri: str = ""  # empty -> sqlite:///<repo>/mlflow.db; MLFLOW_TRACKING_URI overrides both
    experiment: str = "scalpvision"
    artifact_dir: str = "mlartifacts"


@dataclass(frozen=True)
class RenderParams:
    n_images: int = 300
    seed: int = 2406
    out_dir: str = "data/aihub"
    images_per_session: int = 5  # positions 2..6 of one subject session, as AI-Hub films them
    validation_share: float = 0.3  # share of sessions filed under Validation/ (AI-Hub's own split)
    second_filing_share: float = 0.35  # share of images also filed under a second condition folder
    jpeg_quality: int = 92
    workers: int = 2
    width: int = 640
    height: int = 480
    contact_sheet: str = "reports/render/contact_sheet.jpg"


@dataclass(frozen=True)
class ImportParams:
    source: str = "data/aihub"
    ground_truth_dir: str = "data/aihub/ground_truth"  # "" when the source has none (real AI-Hub)
    label_tables: tuple[str, ...] = ()  # flat label tables (value_1..6, img_name) to import instead
    expected_width: int = 640
    expected_height: int = 480
    max_bad_share: float = 0.05
    out_dir: str = "data/interim"


@dataclass(frozen=True)
class SplitParams:
    seed: int = 7
    train: float = 0.7
    val: float = 0.15
    test: float = 0.15
    manifest: str = "data/manifest.csv"


@dataclass(frozen=True)
class CheckParams:
    manifest: str = "data/manifest.csv"
    report_dir: str = "reports/data_checks"
    min_images_per_grade: int = 1  # "grades present per split where the data allows"
    check_files: bool = True  # open every image to confirm size and mode


@dataclass(frozen=True)
class HairDrawParams:
    """How pseudo hairs are drawn into a hair-free patch (the drawing half of ``pseudo``)."""
    hairs_min: int = 1
    hairs_max: int = 10
    width_min: int = 1
    width_max: int = 7
    dots_min: int = 30  # white dandruff-like dots, drawn into the image only
    dots_max: int = 150
    blobs_max: int = 6  # small flake blobs, image only
    alpha_min: float = 1.0  # hair opacity drawn from [alpha_min, 1]; paper: 1 (opaque)
    shading_share: float = 0.0  # share of hairs >= 3 px with a lighter core; paper: 0
    edge_blur_max: float = 0.0  # Gaussian defocus sigma of the hair edges, up to; paper: 0
    relative_colour_share: float = 0.0  # hairs coloured relative to the patch; paper: 0
    contrast_min: float = 25.0  # grey-level contrast range of those hairs against the patch
    contrast_max: float = 160.0
    light_share: float = 0.25  # ... and the share of them lighter than the skin


@dataclass(frozen=True)
class PseudoParams(HairDrawParams):
    """The ``pseudo`` section: where patches come from, how many pairs, plus every drawing
    field of :class:`HairDrawParams` (so a ``PseudoParams`` is what the drawer takes)."""
    n_pairs: int = 400  # paper: 3000
    seed: int = 3
    manifest: str = "data/manifest.csv"  # hair-free patches come from its train split ...
    unlabelled_dirs: tuple[str, ...] = ()  # ... and from these folders of unlabelled images
    skip_missing_unlabelled: bool = True  # a missing folder is logged (and tracked), not fatal
    max_source_images: int = 120
    patch_width: int = 192
    patch_height: int = 144
    patches_per_image: int = 2
    ridge_threshold: float = 20.0
    max_ridge_share: float = 0.008
    val_share: float = 0.1
    out_dir: str = "data/pseudo"


@dataclass(frozen=True)
class U2NetParams:
    variant: str = "lite"  # lite | full
    checkpoint: str = ""  # optional local weights to start from
    epochs: int = 6
    batch_size: int = 8
    lr: float = 1e-3
    rescale: int = 0  # paper: 320 (squash to 320x320); 0 = keep native resolution
    crop: int = 160  # paper: 288
    dice_weight: float = 1.0  # paper: 0 (pure multi-BCE)
    hair_crop_share: float = 0.8  # paper: 0 (uniform random crops)
    bn_recalibration_images: int = 16  # precise BN on full-size images; paper: 0
    lr_schedule: str = "cosine"  # paper: constant
    photometric: float = 0.0  # share of crops with image-only colour/light jitter; paper: 0
    self_training_images: int = 0  # unlabelled train images the model labels itself; paper: 0
    self_training_epochs: int = 0  # epochs on them (+ as many pseudo pairs); paper: 0
    self_training_lr: float = 1e-4
    val_pseudo_pairs: int = 12
    infer_long_side: int = 640  # inference size (long side); the mask is resized back
    val_real_images: int = 8  # built-in val images with ground-truth masks checked each epoch
    seed: int = 0
    threads: int = 2
    device: str = "auto"  # auto | cpu | cuda
    out_dir: str = "models/u2net"
    register_name: str = "scalpvision-hair-segmenter"


@dataclass(frozen=True)
class SegmentParams:
    threshold: float = 0.5
    min_area: int = 250
    min_skeleton_area: int = 2
    box: int = 10
    nms_overlap: float = 0.1
    n_negative: int = 20
    negative_erosion: int = 7
    max_positive: int = 0
    min_elongation: float = 4.0
    seed: int = 0
    refiner: str = "auto"  # auto (SAM if sam_checkpoint else offline) | sam | grabcut
    sam_model: str = "vit_b"  # vit_b | vit_l | vit_h
    sam_checkpoint: str = ""  # local path, e.g. sam_vit_h_4b8939.pth
    grabcut_iterations: int = 3  # the offline refiner's GrabCut iterations
    ensemble_min_area: int = 100
    ensemble_threshold: float = 0.5  # binarises the M̂ of the AND (paper: = threshold, 0.5)
    boundary_band: int = 0  # boundary step after the AND: px inside M's edge it may remove ...
    boundary_grow: int = 0  # ... and px outside it may add (paper: 0 and 0, no such step)
    boundary_window: int = 25  # box of the local hair and scalp colour means (px, odd)
    u2net_runtime: str = "auto"  # auto (ONNX Runtime on a CPU when installed) | onnxruntime | torch


@dataclass(frozen=True)
class EvalParams:
    manifest: str = "data/manifest.csv"
    split: str = "test"
    max_images: int = 0  # 0 = all
    user_image_dir: str = ""  # optional folder of user images ...
    user_mask_dir: str = ""  # ... with ground-truth masks of the same stem
    unlabelled_dirs: tuple[str, ...] = ()  # shown in overlays (no ground truth)
    n_overlays: int = 6
    ablation_images: int = 12  # prompt ablation (4 refiner runs per image) on the first N
    out_dir: str = "reports/segmentation"
    masks_dir: str = "data/masks"


@dataclass(frozen=True)
class HairMasksParams:
    manifest: str = "data/manifest.csv"
    splits: tuple[str, ...] = ("train", "val", "test")  # every image the features need
    reuse_dir: str = "data/masks"  # masks seg_eval already made (same segmenter): not redone
    out_dir: str = "data/hair_masks"


@dataclass(frozen=True)
class FeaturesParams:
    manifest: str = "data/manifest.csv"
    masks_dirs: tuple[str, ...] = ("data/masks", "data/hair_masks")  # first hit per stem wins
    um_per_px: float = 0.0  # 0 = uncalibrated (widths in px, no density)
    vellus_um: float = 40.0
    count_method: str = "strands"  # strands | hough (paper)
    min_strand_length: int = 30  # strands: shorter ones are crossing fragments (px)
    baseline_otsu: bool = True  # Kim et al.: mean thickness of a global-Otsu mask
    grid_widths: tuple[float, ...] = (2.0, 3.0, 4.5, 7.0, 12.0)  # width-vs-truth grid (px)
    grid_angles: int = 12  # angles in [0, 180)
    out: str = "data/features/features.csv"
    report_dir: str = "reports/features"


@dataclass(frozen=True)
class CnnBaselineParams:
    backbone: str = "resnet18"  # any timm model name
    checkpoint: str = ""  # local ImageNet weights (timm checkpoint_path); "" = random init
    image_size: int = 160  # short side; images keep their 4:3 aspect
    epochs: int = 6
    batch_size: int = 16
    lr: float = 0.001
    class_weighted: bool = True


@dataclass(frozen=True)
class AlopeciaParams:
    features: str = "data/features/features.csv"
    target: str = "alopecia"
    feature_names: tuple[str, ...] = ("length", "iqr_mean", "iqr_median", "mean", "median",
                                      "hair_count")  # paper Table 7, in its order
    train_splits: tuple[str, ...] = ("train", "val")
    eval_split: str = "test"
    learning_rate: float = 0.01
    max_depth: int = 5
    n_estimators: int = 300
    subsample: float = 1.0
    seed: int = 0
    cv_folds: int = 5  # subject-grouped CV on the train splits besides the test split; 0 = off
    cnn: CnnBaselineParams = field(default_factory=CnnBaselineParams)
    threads: int = 2
    out_dir: str = "models/alopecia"
    report_dir: str = "reports/alopecia"
    register_name: str = "scalpvision-alopecia"


@dataclass(frozen=True)
class PromoteRule:
    """One registered model under champion/challenger promotion."""
    name: str
    kind: str                  # segmenter | alopecia: how to re-score an old champion
    candidate_from: str        # metrics JSON whose ``registered_version`` is the candidate
    metric: str                # version tag metric.<metric> compared
    higher_is_better: bool = True
    margin: float = 0.0        # the candidate must beat the champion by more than this


@dataclass(frozen=True)
class PromoteParams:
    alias: str = "champion"
    audit_file: str = "registry/promotions.jsonl"
    rescore_champion: bool = True   # re-score a champion scored on another test set
    models: tuple[PromoteRule, ...] = ()


@dataclass(frozen=True)
class ServeParams:
    """The BentoML service and its packaging."""
    bentoml_home: str = ".bentoml"
    service_name: str = "scalpvision"
    segmenter_model: str = "scalpvision-hair-segmenter"
    alopecia_model: str = "scalpvision-alopecia"
    alias: str = "champion"
    export_path: str = "dist/scalpvision.bento"
    max_upload_mb: float = 12.0
    expected_size: tuple[int, ...] = (640, 480)  # width, height; others are resized, with a note
    um_per_px: float = 0.0
    workers: int = 1
    port: int = 3000


SECTIONS: dict[str, type] = {
    "tracking": TrackingParams,
    "render": RenderParams,
    "import": ImportParams,
    "split": SplitParams,
    "check": CheckParams,
    "pseudo": PseudoParams,
    "u2net": U2NetParams,
    "segment": SegmentParams,
    "seg_eval": EvalParams,
    "hair_masks": HairMasksParams,
    "features": FeaturesParams,
    "alopecia": AlopeciaParams,
    "promote": PromoteParams,
    "serve": ServeParams,
}


def register_section(name: str, cls: type) -> None:
    """Register a parameter section (used by later capabilities)."""
    SECTIONS[name] = cls


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_rest) = typing.get_args(tp) or (Any,)
        return tuple(_coerce(v, item_tp, where) for v in value)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build the frozen dataclass ``cls`` from ``data``; every key must be known and present."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(fields)}"
        )
    missing = sorted(set(fields) - set(data))
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    return cls(**{k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()})


def read_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def load_section(name: str, path: str | Path = "params.yaml") -> Any:
    """Load and validate one section of a parameter file into its dataclass."""
    if name not in SECTIONS:
        raise ConfigError(f"unknown section {name!r}; valid sections: {', '.join(SECTIONS)}")
    data = read_params(path)
    if name not in data:
        raise ConfigError(f"{path}: section {name!r} is missing")
    return from_dict(SECTIONS[name], data[name], f"{path}:{name}")


def validate_params(path: str | Path = "params.yaml") -> list[str]:
    """Validate every known section present in the file; returns the section names checked."""
    data = read_params(path)
    known = {"profile", *SECTIONS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
        )
    for name in SECTIONS:
        if name in data:
            from_dict(SECTIONS[name], data[name], f"{path}:{name}")
    return [n for n in SECTIONS if n in data]


def apply_profile(params: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge a profile overlay (e.g. ``profiles/paper.yaml``) onto a parameter dict."""
    out = dict(params)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = apply_profile(out[key], value)
        else:
            out[key] = value
    return out


def as_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


__all__ = [
    "ConfigError", "TrackingParams", "RenderParams", "ImportParams", "SplitParams",
    "CheckParams", "SECTIONS", "register_section", "from_dict", "read_params", "load_section",
    "validate_params", "apply_profile", "as_dict", "field",
]
