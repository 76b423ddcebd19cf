"""MLflow model registry helpers: the hair segmenter as one loadable unit.

A registered segmenter version is an MLflow pyfunc model whose artifacts are the U²-Net model
directory and a ``segment.json`` holding the prompt, refiner and ensemble settings; its version
tags carry the evaluation metrics, the data hash and the git revision.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PIP_REQUIREMENTS = ["torch==2.14.1", "opencv-python-headless==5.0.0.93", "scikit-image==0.26.0",
                    "numpy==2.4.6", "pandas==3.1.1", "pillow==13.0.0"]


def _segmenter_pyfunc_class():
    import mlflow.pyfunc

    class HairSegmenterModel(mlflow.pyfunc.PythonModel):
        """pyfunc: DataFrame with a ``path`` column -> DataFrame(path, hair_share, mask_png)."""

        def load_context(self, context):
            from scalpvision.segmentation.store import load_segmenter_unit

            self.segmenter = load_segmenter_unit(Path(context.artifacts["model_dir"]),
                                                 Path(context.artifacts["segment_config"]))

        def predict(self, context, model_input, params=None):
            import base64
            import io

            import pandas as pd
            from PIL import Image

            from scalpvision.io import read_image

            rows = []
            for path in model_input["path"]:
                res = self.segmenter(read_image(path))
                buf = io.BytesIO()
                Image.fromarray(res.final.astype("uint8") * 255).save(buf, format="PNG")
                rows.append({"path": path, "hair_share": float(res.final.mean()),
                             "mask_png": base64.b64encode(buf.getvalue()).decode()})
            return pd.DataFrame(rows)

    return HairSegmenterModel


def register_segmenter(model_dir: str | Path, segment_config: dict[str, Any], name: str,
                       metrics: dict[str, float], tags: dict[str, str]) -> str:
    """Log the segmenter unit to the active MLflow run and register it; returns the version."""
    import mlflow
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = Path(tmp) / "segment.json"
        cfg_path.write_text(json.dumps(segment_config, indent=1))
        info = mlflow.pyfunc.log_model(
            name="hair_segmenter", python_model=_segmenter_pyfunc_class()(),
            artifacts={"model_dir": str(model_dir), "segment_config": str(cfg_path)},
            pip_requirements=PIP_REQUIREMENTS, registered_model_name=name)
    version = str(info.registered_model_version)
    client = MlflowClient()
    for k, v in {**{f"metric.{k}": f"{v:.5f}" for k, v in metrics.items()}, **tags}.items():
        client.set_model_version_tag(name, version, k, str(v))
    return version
