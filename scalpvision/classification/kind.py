"""The ``classifier`` model kind: the four-head classifier directory as an MLflow pyfunc model
(DataFrame with a ``path`` column -> the three grades and their probabilities), re-scored on
the classifier manifest's validation and test splits, served as the role that answers
``scalp_conditions``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from scalpvision.classification.model import CONDITIONS
from scalpvision.errors import MissingInputError
from scalpvision.ops.kinds import ModelKind, register_kind

ARTIFACT = "scalp_classifier"


def _pyfunc_class():
    import mlflow.pyfunc

    class ScalpClassifierModel(mlflow.pyfunc.PythonModel):
        """pyfunc: DataFrame with a ``path`` column -> one row per image: ``<condition>_grade``
        (presence-gated), ``<condition>_presence`` and ``<condition>_p0..p3``."""

        def load_context(self, context):
            from scalpvision.classification.predictor import load_classifier_dir

            self.predictor = load_classifier_dir(Path(context.artifacts["model_dir"]))

        def predict(self, context, model_input, params=None):
            import pandas as pd

            from scalpvision.classification.predictor import prediction_rows
            from scalpvision.io import read_image

            paths = list(model_input["path"])
            return pd.DataFrame(prediction_rows(
                self.predictor, [read_image(p) for p in paths], paths))

    return ScalpClassifierModel


def log_classifier(source: str | Path, name: str, pip: list[str]):
    """``source``: a classifier model directory (:func:`~.predictor.save_classifier_dir`)."""
    import mlflow

    return mlflow.pyfunc.log_model(name=ARTIFACT, python_model=_pyfunc_class()(),
                                   artifacts={"model_dir": str(source)},
                                   pip_requirements=pip, registered_model_name=name)


def _model_dir(root: Path) -> Path:
    hits = sorted(Path(root).rglob("config.json"))
    hits = [h.parent for h in hits if (h.parent / "weights.pt").is_file()]
    if not hits:
        raise MissingInputError(f"{root}: no classifier directory inside")
    return hits[0]


def evaluate_classifier(params, model_uri: str) -> dict[str, float]:
    """Macro-F1 (gated) on the classifier manifest's validation and test splits (real images
    only: augmented rows never enter a manifest split)."""
    import mlflow
    import pandas as pd

    from scalpvision.classification.data import load_squares
    from scalpvision.classification.metrics import evaluate
    from scalpvision.classification.model import predict_proba
    from scalpvision.classification.predictor import load_classifier_dir

    c = params.classifier
    pred = load_classifier_dir(_model_dir(Path(mlflow.artifacts.download_artifacts(
        artifact_uri=model_uri, dst_path=tempfile.mkdtemp(prefix="sv-")))))
    df = pd.read_csv(c.manifest)
    out = {}
    for key, split in (("val", c.splits[1]), ("test", c.splits[2])):
        part = df[df.split == split]
        x = pred.norm.apply(*load_squares(part.path, pred.image_size))
        r = evaluate(part[list(CONDITIONS)].to_numpy(int), predict_proba(pred.model, x),
                     part.group.to_numpy(), gate=pred.gate, n_boot=0)
        out[f"{key}_macro_f1"] = r["macro_f1"]
    return out


class ServedClassifier:
    """Role ``classifier``: the three conditions of ``ctx["rgb"]`` - each grade with its
    probabilities and the presence probability; a grade whose probability is below
    ``min_confidence`` is marked ``uncertain`` and not given."""

    def __init__(self, model_path: Path, min_confidence: float):
        from scalpvision.classification.predictor import load_classifier_dir

        self.predictor = load_classifier_dir(_model_dir(Path(model_path)))
        self.min_confidence = min_confidence

    def conditions(self, rgb: np.ndarray) -> dict:
        from scalpvision.classification.metrics import grades_from_proba

        proba = self.predictor.predict([rgb])
        grades = grades_from_proba(proba, self.predictor.gate)[0]
        out = {}
        for k, c in enumerate(CONDITIONS):
            p = proba[c][0]
            top = float(p[grades[k]]) if proba["presence"][0, k] >= self.predictor.gate \
                else float(1 - proba["presence"][0, k])
            uncertain = top < self.min_confidence
            out[c] = {"grade": None if uncertain else int(grades[k]), "uncertain": uncertain,
                      "confidence": round(top, 4),
                      "probabilities": {str(g): round(float(p[g]), 4) for g in range(4)},
                      "presence_probability": round(float(proba["presence"][0, k]), 4)}
        return out

    def answer(self, ctx):
        return {"scalp_conditions": self.conditions(ctx["rgb"])}, {}


KIND = register_kind(ModelKind(
    name="classifier", log=log_classifier, evaluate=evaluate_classifier,
    serve=lambda path, params: ServedClassifier(path, params.classifier.min_confidence),
    pip_packages=("torch", "timm", "opencv-python-headless", "numpy", "pandas", "pillow"),
    reads=("classifier",),
    description="timm backbone -> presence + dandruff/sebum/erythema severity heads"))
