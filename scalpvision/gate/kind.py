"""The ``scalp_gate`` model kind: the gate directory as an MLflow pyfunc model (DataFrame with
a ``path`` column -> scalp probability, passed, what it looks like), re-scored on the gate's
validation and test parts, served as the role that admits or refuses an upload before any
other model sees it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from scalpvision.errors import MissingInputError
from scalpvision.ops.kinds import ModelKind, register_kind

ARTIFACT = "scalp_gate"


def _gate_dir(root: Path) -> Path:
    hits = [h.parent for h in sorted(Path(root).rglob("gate.skops"))]
    if not hits:
        raise MissingInputError(f"{root}: no scalp-gate directory inside")
    return hits[0]


class Gate:
    """A loaded gate: ``check(rgb) -> {"scalp_probability", "novelty_distance", "passed",
    "reason"}``."""

    def __init__(self, path: Path, threshold: float | None = None):
        from scalpvision.gate.model import load_gate_dir

        self.model, self.novelty, self.config = load_gate_dir(_gate_dir(Path(path)))
        self.threshold = self.config["threshold"] if threshold is None else threshold

    def check(self, rgb: np.ndarray) -> dict:
        """``passed`` with the reason: the classifier's scalp probability and the novelty
        distance, each against its limit."""
        from scalpvision.gate.features import gate_features
        from scalpvision.gate.model import SCALP, passes

        x = gate_features(rgb)[None]
        proba = self.model.predict_proba(x)[0]
        classes = [str(c) for c in self.model.classes_]
        p = float(proba[classes.index(SCALP)])
        d = float(self.novelty.distance(x)[0])
        passed = bool(passes(p, d, self.threshold, self.novelty.limit))
        if passed:
            reason = ""
        elif p < self.threshold:
            others = [(q, c) for q, c in zip(proba, classes) if c != SCALP]
            reason = (f"scalp probability {p:.3f} < {self.threshold}; it looks most like: "
                      f"{max(others)[1]}")
        else:
            reason = (f"unlike the scalp frames the gate knows (distance {d:.1f} > "
                      f"{self.novelty.limit:.1f})")
        return {"scalp_probability": round(p, 4), "novelty_distance": round(d, 2),
                "passed": passed, "reason": reason}


def _pyfunc_class():
    import mlflow.pyfunc

    class ScalpGateModel(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            self.gate = Gate(Path(context.artifacts["model_dir"]))

        def predict(self, context, model_input, params=None):
            import pandas as pd

            from scalpvision.io import read_image

            return pd.DataFrame([{"path": str(p), **self.gate.check(read_image(p))}
                                 for p in model_input["path"]])

    return ScalpGateModel


def log_gate(source: str | Path, name: str, pip: list[str]):
    """``source``: a gate directory (:func:`~scalpvision.gate.model.save_gate_dir`)."""
    import mlflow

    return mlflow.pyfunc.log_model(name=ARTIFACT, python_model=_pyfunc_class()(),
                                   artifacts={"model_dir": str(source)},
                                   pip_requirements=pip, registered_model_name=name)


def evaluate_gate(params, model_uri: str) -> dict[str, float]:
    """Balanced error on the gate's validation and test parts, as built from the params."""
    import mlflow

    from scalpvision.gate.model import admitted, error_rates, gate_sets

    gp = params.scalp_gate
    gate = Gate(Path(mlflow.artifacts.download_artifacts(
        artifact_uri=model_uri, dst_path=tempfile.mkdtemp(prefix="sv-"))), gp.threshold)
    sets = gate_sets(gp, ("val", "test"))  # the train part is not needed to re-score
    return {f"{part}_balanced_error": error_rates(sets[part], admitted(
        gate.model, gate.novelty, sets[part].x, gate.threshold))["balanced_error"]
        for part in ("val", "test")}


class ServedGate:
    """Role ``gate``: refuses (422, naming what the upload looks like) an upload that is not a
    microscopic scalp frame; answers ``scalp_check`` for one that is."""

    def __init__(self, path: Path, threshold: float):
        self.gate = Gate(path, threshold)

    def check(self, rgb: np.ndarray, name: str = "upload") -> dict:
        from scalpvision.serve.upload import InputError

        r = self.gate.check(rgb)
        if not r["passed"]:
            raise InputError(f"{name}: not a microscopic scalp image ({r['reason']}) - "
                             "nothing was graded", 422)
        return r

    def answer(self, ctx):
        img = ctx.get("image")
        return {"scalp_check": self.check(ctx["rgb"], getattr(img, "name", "upload"))}, {}


KIND = register_kind(ModelKind(
    name="scalp_gate", log=log_gate, evaluate=evaluate_gate,
    serve=lambda path, params: ServedGate(path, params.scalp_gate.threshold),
    pip_packages=("scikit-learn", "scikit-image", "opencv-python-headless", "numpy", "pandas",
                  "skops", "pillow"),
    reads=("scalp_gate",),
    description="colour-robust image statistics -> gradient boosting: scalp frame or not"))
