"""The ``alopecia`` model kind: the feature GBM as a local directory (skops + config.json,
DVC-tracked) and as an MLflow sklearn model (skops format) whose MLmodel metadata carries the
feature settings it was trained with; re-scored on the feature table's test rows; served as
the role that measures the hair features of ``mask`` and grades them."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

from scalpvision.alopecia.model import SKOPS_TRUSTED_TYPES
from scalpvision.errors import MissingInputError
from scalpvision.ops.kinds import ModelKind, register_kind

ARTIFACT = "alopecia_gbm"


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
    from scalpvision.ops.checkpoints import load_trusted_skops

    path = Path(path)
    model = load_trusted_skops(path / "model.skops", SKOPS_TRUSTED_TYPES, "an alopecia model")
    return model, json.loads((path / "config.json").read_text())


def log_alopecia(source: tuple[Pipeline, pd.DataFrame, dict], name: str, pip: list[str]):
    """``source``: (fitted pipeline, an input example, the feature settings of its table -
    stored in the MLmodel metadata so the service measures new masks the same way)."""
    import mlflow

    model, example, feature_settings = source
    return mlflow.sklearn.log_model(model, name=ARTIFACT, input_example=example,
                                    skops_trusted_types=SKOPS_TRUSTED_TYPES,
                                    pip_requirements=pip, registered_model_name=name,
                                    metadata={"feature_settings": feature_settings})


def evaluate_alopecia(params, model_uri: str) -> dict[str, float]:
    """Accuracy / weighted / macro F1 on the current feature table's test rows."""
    import mlflow

    from scalpvision.alopecia.model import check_features, evaluate

    a = params.alopecia
    df = pd.read_csv(a.features)
    test = df[df.split == a.eval_split].reset_index(drop=True)
    model = mlflow.sklearn.load_model(model_uri)
    r = evaluate(test[a.target].to_numpy(int),
                 model.predict(check_features(test, a.feature_names, "test")))
    return {f"test_{k}": float(r[k]) for k in ("accuracy", "weighted_f1", "macro_f1")}


def _find(root: Path, filename: str) -> Path:
    hits = sorted(Path(root).rglob(filename))
    if not hits:
        raise MissingInputError(f"{root}: no {filename} inside (not a ScalpVision model)")
    return hits[0]


class ServedAlopecia:
    """Role ``alopecia``: the hair features of ``ctx["mask"]`` (measured with the settings
    the model was trained with) and the grade 0-3 with its probabilities."""

    def __init__(self, model_path: Path, um_per_px: float = 0.0, vellus_um: float = 40.0):
        import mlflow.sklearn
        from mlflow.models import Model

        from scalpvision.features.table import count_params_from

        mlmodel = _find(Path(model_path), "MLmodel")
        self.model = mlflow.sklearn.load_model(str(mlmodel.parent))
        meta = Model.load(str(mlmodel)).metadata or {}
        self.count = count_params_from(meta.get("feature_settings"), str(mlmodel))
        names = getattr(self.model, "feature_names_in_", None)
        self.feature_names = list(names) if names is not None else \
            ["length", "iqr_mean", "iqr_median", "mean", "median", "hair_count"]
        self.um_per_px, self.vellus_um = um_per_px, vellus_um
        self._lock = threading.Lock()

    def features(self, mask, um_per_px: float | None = None, area=None, image=None) -> dict:
        """Hair features of ``mask`` (measured in ``image``, its RGB frame, where given)."""
        from scalpvision.features.table import hair_features, per_hair_table, trace
        from scalpvision.serve.upload import InputError

        cal = self.um_per_px if um_per_px is None else um_per_px
        if cal < 0:
            raise InputError(f"um_per_px must be >= 0 (0 = uncalibrated), got {cal}", 422)
        if area is not None:
            mask = mask & area
        t = trace(mask, self.count, area=area, image=image)
        f = hair_features(mask, cal, self.vellus_um, count=self.count, area=area, hairs=t)
        out = {"hair_count": int(f["hair_count"]), "width_samples": int(f["length"]),
               "mean_width_px": f["mean"], "median_width_px": f["median"],
               "hair_mean_width_px": f["hair_mean_width"],
               "hair_median_width_px": f["hair_median_width"],
               "analysed_share": f["analysed_share"],
               "iqr_mean_width_px": f["iqr_mean"], "iqr_median_width_px": f["iqr_median"],
               "calibrated": cal > 0, "um_per_px": cal}
        if cal > 0:
            out.update({k: f[k] for k in ("density_per_cm2", "mean_width_um",
                                          "median_width_um", "vellus_share")})
        out["hairs"] = [{k: (None if isinstance(v, float) and v != v else v) for k, v in h.items()}
                        for h in per_hair_table(t, cal, self.vellus_um)]
        out["_paper_features"] = {k: f[k] for k in self.feature_names}
        return out

    def grade(self, paper_features: dict) -> dict:
        import numpy as np

        x = pd.DataFrame([[paper_features[k] for k in self.feature_names]],
                         columns=self.feature_names, dtype=float)
        with self._lock:
            proba = self.model.predict_proba(x)[0]
        classes = [int(c) for c in self.model.classes_]
        probs = {str(g): 0.0 for g in range(4)}
        probs.update({str(c): float(p) for c, p in zip(classes, proba)})
        return {"grade": int(classes[int(np.argmax(proba))]), "probabilities": probs,
                "features": {k: float(paper_features[k]) for k in self.feature_names}}

    def answer(self, ctx):
        feats = self.features(ctx["mask"], ctx.get("um_per_px"), ctx.get("area"), ctx["rgb"])
        grade = self.grade(feats.pop("_paper_features"))
        return {"hair_features": feats, "alopecia": grade}, {}


KIND = register_kind(ModelKind(
    name="alopecia", log=log_alopecia, evaluate=evaluate_alopecia,
    serve=lambda path, params: ServedAlopecia(path, params.serve.um_per_px,
                                                params.features.vellus_um),
    pip_packages=("scikit-learn", "skops", "numpy", "pandas"),
    reads=("alopecia",),
    description="hair features of M -> gradient boosting -> grade 0-3"))
