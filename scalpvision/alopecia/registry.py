"""Saving and registering the alopecia feature model: a local model directory (skops file +
config.json, DVC-tracked) and an MLflow registered model version carrying its metrics, data
hash and git revision (the version's run holds the git tags)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

from scalpvision.alopecia.model import SKOPS_TRUSTED_TYPES

PIP_REQUIREMENTS = ["scikit-learn==1.9.1", "skops==0.16.0", "numpy==2.4.6", "pandas==3.1.1"]


def save_alopecia_dir(out: Path, model: Pipeline, feature_names, evaluation: dict,
                      extra: dict) -> Path:
    import skops.io as sio

    out.mkdir(parents=True, exist_ok=True)
    sio.dump(model, out / "model.skops")
    (out / "config.json").write_text(json.dumps(
        {"feature_names": list(feature_names), "grades": [0, 1, 2, 3],
         "evaluation": evaluation, **extra}, indent=1))
    return out


def load_alopecia_dir(path: Path) -> tuple[Pipeline, dict]:
    import skops.io as sio

    path = Path(path)
    if not (path / "model.skops").is_file():
        raise FileNotFoundError(f"{path}: not an alopecia model directory (no model.skops)")
    untrusted = sio.get_untrusted_types(file=path / "model.skops")
    unknown = sorted(set(untrusted) - set(SKOPS_TRUSTED_TYPES))
    if unknown:
        raise ValueError(f"{path}/model.skops holds types not on the trusted list: {unknown}")
    return (sio.load(path / "model.skops", trusted=untrusted),
            json.loads((path / "config.json").read_text()))


def register_alopecia(model: Pipeline, example: pd.DataFrame, name: str, evaluation: dict,
                      tags: dict[str, str], feature_settings: dict | None = None) -> str:
    """Log the pipeline to the active run (skops format) and register it; returns the version.
    ``feature_settings``: how its features were measured (features stage), stored in the
    model's MLmodel metadata so the service measures new masks the same way."""
    import mlflow
    from mlflow.tracking import MlflowClient

    info = mlflow.sklearn.log_model(model, name="alopecia_gbm", input_example=example,
                                    skops_trusted_types=SKOPS_TRUSTED_TYPES,
                                    pip_requirements=PIP_REQUIREMENTS,
                                    registered_model_name=name,
                                    metadata={"feature_settings": feature_settings or {}})
    version = str(info.registered_model_version)
    client = MlflowClient()
    metric_tags = {f"metric.test_{k}": f"{evaluation[k]:.5f}"
                   for k in ("accuracy", "weighted_f1", "macro_f1")}
    for k, v in {**metric_tags, **tags}.items():
        client.set_model_version_tag(name, version, k, str(v))
    return version
