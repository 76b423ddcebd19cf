"""Typed parameters: ``params.yaml`` parsed into frozen dataclasses, one per stage section.

Every setting is defined once. A section's fields have no defaults here: their values live in
``params.yaml`` alone, so a missing key fails at load instead of falling back on a value
nobody chose. Nested sections are the library's own parameter classes (``segment.prompts`` is
a :class:`~scalpvision.segmentation.params.PromptParams`, ``alopecia.gbm`` a
:class:`~scalpvision.alopecia.params.GbmParams`, ...); a field of those *with* a default is a
library constant that no parameter file sets.

Profiles are overlays: ``profile: paper`` in ``params.yaml`` (or ``load_params(...,
profile="paper")``, ``--profile paper`` on the command line) deep-merges
``profiles/paper.yaml`` over the file at load time; nothing rewrites ``params.yaml``.

The library never reads parameter files; entry points (``pipelines/``, the CLI, the service)
call :func:`load_params` and pass sections on.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scalpvision.alopecia.params import CnnBaselineParams, GbmParams
from scalpvision.augment.params import AugmentParams, DiffusionParams, GuidanceParams
from scalpvision.classification.params import ClassifierModelParams, ClassifierTrainParams
from scalpvision.errors import UserError
from scalpvision.features.params import CountParams
from scalpvision.ops.engine import ExecutionParams
from scalpvision.segmentation.params import (
    BoundaryParams, EnsembleParams, HairDrawParams, PromptParams, RefinerParams, StrokeParams,
    U2NetTrainParams,
)

NO_PROFILE = ("", "demo")  # the file as written


class ConfigError(UserError, ValueError):
    """A parameter file is missing, malformed, or has unknown/missing keys."""


@dataclass(frozen=True)
class TrackingParams:
    """Where runs are logged. An execution setting, not a stage parameter: changing it
    re-runs nothing."""
    uri: str  # "" -> sqlite:///<repo>/mlflow.db; MLFLOW_TRACKING_URI overrides both
    experiment: str
    artifact_dir: str


@dataclass(frozen=True)
class RenderParams:
    n_images: int
    seed: int
    out_dir: str
    images_per_session: int
    validation_share: float
    second_filing_share: float
    jpeg_quality: int
    workers: int
    width: int
    height: int
    contact_sheet: str


@dataclass(frozen=True)
class ImportParams:
    source: str
    ground_truth_dir: str
    label_tables: tuple[str, ...]
    expected_width: int
    expected_height: int
    max_bad_share: float
    out_dir: str


@dataclass(frozen=True)
class SplitParams:
    seed: int
    train: float
    val: float
    test: float
    manifest: str


@dataclass(frozen=True)
class CheckParams:
    manifest: str
    report_dir: str
    min_images_per_grade: int
    check_files: bool


@dataclass(frozen=True)
class PseudoParams:
    n_pairs: int
    seed: int
    manifest: str
    unlabelled_dirs: tuple[str, ...]
    skip_missing_unlabelled: bool
    max_source_images: int
    patch_width: int
    patch_height: int
    patches_per_image: int
    ridge_threshold: float
    max_ridge_share: float
    val_share: float
    out_dir: str
    draw: HairDrawParams


@dataclass(frozen=True)
class U2NetParams:
    variant: str
    checkpoint: str
    val_pseudo_pairs: int
    val_real_images: int
    self_training_images: int
    threads: int
    out_dir: str
    register_name: str
    train: U2NetTrainParams


@dataclass(frozen=True)
class SegmentParams:
    prompts: PromptParams
    refiner: RefinerParams
    ensemble: EnsembleParams
    strokes: StrokeParams
    boundary: BoundaryParams
    u2net_runtime: str


@dataclass(frozen=True)
class EvalParams:
    manifest: str
    split: str
    max_images: int
    user_image_dir: str
    user_mask_dir: str
    unlabelled_dirs: tuple[str, ...]
    n_overlays: int
    ablation_images: int
    out_dir: str


@dataclass(frozen=True)
class HairMasksParams:
    manifest: str
    splits: tuple[str, ...]
    max_images: int  # whole subjects up to this many images, each split its share; 0 = all
    seed: int  # order in which subjects are taken
    out_dir: str


@dataclass(frozen=True)
class FeaturesParams:
    manifest: str
    masks_dir: str
    um_per_px: float
    vellus_um: float
    baseline_otsu: bool
    grid_widths: tuple[float, ...]
    grid_angles: int
    out: str
    report_dir: str
    count: CountParams


@dataclass(frozen=True)
class AlopeciaParams:
    features: str
    target: str
    feature_names: tuple[str, ...]
    train_splits: tuple[str, ...]
    eval_split: str
    cv_folds: int
    threads: int
    out_dir: str
    report_dir: str
    register_name: str
    gbm: GbmParams
    cnn: CnnBaselineParams


@dataclass(frozen=True)
class ClassifierParams:
    manifest: str
    splits: tuple[str, ...]  # train, val, test split names
    threads: int
    presence_gate: float  # presence probability below which a condition is graded 0
    min_confidence: float  # served grades below this top probability are marked uncertain
    bootstrap: int  # bootstrap resamples (over subjects) of the macro-F1 interval
    model: ClassifierModelParams
    train: ClassifierTrainParams
    baseline_estimators: int  # classical baseline: boosting stages per condition
    real_frames_dir: str  # real CC BY frames with condition boxes (presence AUC); "" = none
    out_dir: str  # the trained classifier directory
    report_dir: str
    register_name: str


@dataclass(frozen=True)
class ScalpGateParams:
    manifest: str
    splits: tuple[str, ...]  # manifest splits giving the train, val and test scalp frames
    real_dirs: tuple[str, ...]  # unlabelled real scalp frames, dealt to the parts by scene
    scalp_images: int  # manifest frames per part (each also recoloured); 0 = all
    negatives_per_kind: int  # procedural non-scalp images of each kind, per part
    photo_views: int  # views (crops) of each bundled photograph
    estimators: int  # boosting iterations
    threshold: float  # scalp probability below which an upload is refused (422)
    novelty_quantile: float  # novelty limit: this quantile of the val scalp frames' distances
    seed: int
    out_dir: str
    report_dir: str
    register_name: str


@dataclass(frozen=True)
class PromoteRule:
    """One registered model under champion/challenger promotion."""
    name: str
    kind: str  # a registered model kind (scalpvision.ops.kinds): how to re-score a champion
    candidate_from: str  # metrics JSON whose ``registered_version`` is the candidate
    metric: str  # version tag metric.<metric> compared
    higher_is_better: bool
    margin: float  # the candidate must beat the champion by more than this


@dataclass(frozen=True)
class PromoteParams:
    alias: str
    audit_file: str
    rescore_champion: bool
    models: tuple[PromoteRule, ...]


@dataclass(frozen=True)
class ServedModel:
    """One model the service loads: its role, and which registry version plays it."""
    role: str
    registered_name: str
    alias: str


@dataclass(frozen=True)
class BatchingParams:
    """BentoML adaptive batching of the U²-Net forward pass (the costliest per-image call)."""
    enabled: bool
    max_batch_size: int
    max_latency_ms: int


@dataclass(frozen=True)
class ServeParams:
    bentoml_home: str
    service_name: str
    export_path: str
    max_upload_mb: float
    expected_size: tuple[int, ...]  # width, height
    um_per_px: float
    workers: int
    port: int
    batching: BatchingParams
    models: tuple[ServedModel, ...]

    def model(self, role: str) -> ServedModel:
        for m in self.models:
            if m.role == role:
                return m
        raise ConfigError(f"serve.models has no role {role!r}; roles: "
                          f"{', '.join(m.role for m in self.models)}")


SECTIONS: dict[str, type] = {
    "tracking": TrackingParams,
    "execution": ExecutionParams,
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
    "classifier": ClassifierParams,
    "scalp_gate": ScalpGateParams,
    "diffusion": DiffusionParams,
    "guidance": GuidanceParams,
    "augment": AugmentParams,
    "promote": PromoteParams,
    "serve": ServeParams,
}
EXECUTION_SECTIONS = ("tracking", "execution")  # read by stages, never a stage dependency


def register_section(name: str, cls: type) -> None:
    """Register a parameter section (a capability that adds a stage adds its section)."""
    SECTIONS[name] = cls


class Params:
    """The sections of one parameter file (profile applied), each as its dataclass.
    ``params.<section>`` is that section; :attr:`profile` is the overlay that was applied."""

    def __init__(self, sections: dict[str, Any], profile: str, source: str):
        self._sections, self.profile, self.source = sections, profile, source

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("_sections", {})
        if name in sections:
            return sections[name]
        raise ConfigError(f"{self.__dict__.get('source', '?')}: no section {name!r}; "
                          f"sections: {', '.join(sections)}")

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    def sections(self) -> list[str]:
        return list(self._sections)

    def subset(self, *names: str) -> Params:
        """The same parameters restricted to ``names`` (reading another section fails)."""
        return Params({n: getattr(self, n) for n in names}, self.profile, self.source)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_rest) = typing.get_args(tp) or (Any,)
        return tuple(_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    checks = {bool: (lambda v: isinstance(v, bool), "true/false"),
              int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
              float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                      "a number"),
              str: (lambda v: isinstance(v, str), "a string")}
    if tp in checks:
        ok, what = checks[tp]
        if not ok(value):
            raise ConfigError(f"{where}: expected {what}, got {value!r}")
        return float(value) if tp is float else value
    return value


def required_fields(cls: type) -> list[str]:
    """The fields of ``cls`` that a parameter file must set (those without a default)."""
    return [f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build the frozen dataclass ``cls`` from ``data``: every key must be a field, and every
    field without a default must be given."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(fields)}")
    missing = [k for k in required_fields(cls) if k not in data]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    try:
        return cls(**{k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()})
    except UserError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster, same result


def yaml_load(text: str) -> Any:
    """``yaml.safe_load`` through libyaml where the wheel has it (params, dvc.yaml, dvc.lock
    are read at every stage start)."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader either way


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overlay`` (a profile) onto ``base``: mappings merge, anything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def profile_path(params_path: str | Path, name: str) -> Path:
    return Path(params_path).resolve().parent / "profiles" / f"{name}.yaml"


def resolved_dict(path: str | Path = "params.yaml", profile: str | None = None,
                  overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """The raw parameter mapping of ``path`` with its profile overlay and ``overrides``
    (dotted keys -> values) applied; returns it with the profile's name."""
    data = read_yaml(path)
    name = data.pop("profile", "") if profile is None else (data.pop("profile", ""), profile)[1]
    name = name or ""
    if name not in NO_PROFILE:
        prof = profile_path(path, name)
        if not prof.is_file():
            valid = sorted(p.stem for p in prof.parent.glob("*.yaml"))
            raise ConfigError(f"{prof}: no such profile; valid: demo, {', '.join(valid)}")
        overlay = read_yaml(prof)
        overlay.pop("profile", None)
        data = merge(data, overlay)
    for dotted, value in (overrides or {}).items():
        *head, last = dotted.split(".")
        node = data
        for k in head:
            if not isinstance(node.get(k), dict):
                raise ConfigError(f"override {dotted}: {k!r} is not a section")
            node = node[k]
        if last not in node:
            raise ConfigError(f"override {dotted}: no such key")
        node[last] = value
    return data, name or "demo"


def load_params(path: str | Path = "params.yaml", profile: str | None = None,
                overrides: dict[str, Any] | None = None) -> Params:
    """Load and validate every section of a parameter file (profile overlay applied)."""
    data, name = resolved_dict(path, profile, overrides)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(unknown)}; "
                          f"valid: profile, {', '.join(SECTIONS)}")
    sections = {n: from_dict(cls, data[n], f"{path}:{n}")
                for n, cls in SECTIONS.items() if n in data}
    return Params(sections, name, str(path))


def as_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


__all__ = [
    "ConfigError", "Params", "SECTIONS", "EXECUTION_SECTIONS", "register_section", "from_dict",
    "required_fields", "yaml_load", "read_yaml", "merge", "resolved_dict", "load_params", "as_dict",
    "PromptParams", "RefinerParams", "EnsembleParams", "StrokeParams", "BoundaryParams",
    "HairDrawParams", "U2NetTrainParams", "CountParams", "GbmParams", "CnnBaselineParams",
]
