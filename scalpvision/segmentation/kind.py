"""The ``segmenter`` model kind: U²-Net directory + ``segment`` settings as one MLflow pyfunc
model (DataFrame with a ``path`` column -> hair share and mask PNG), re-scored on seg_eval's
test rows, served as the role that makes the hair mask ``mask`` every later role reads."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from scalpvision.ops.kinds import ModelKind, register_kind

ARTIFACT = "hair_segmenter"


def _pyfunc_class():
    import mlflow.pyfunc

    class HairSegmenterModel(mlflow.pyfunc.PythonModel):
        """pyfunc: DataFrame with a ``path`` column -> DataFrame(path, hair_share, mask_png)."""

        def load_context(self, context):
            from scalpvision.segmentation.store import load_segmenter_unit

            self.segmenter = load_segmenter_unit(Path(context.artifacts["model_dir"]),
                                                 Path(context.artifacts["segment_config"]))

        def predict(self, context, model_input, params=None):
            import pandas as pd

            from scalpvision.io import read_image
            from scalpvision.serve.upload import png_b64

            rows = []
            for path in model_input["path"]:
                res = self.segmenter(read_image(path))
                rows.append({"path": path, "hair_share": float(res.final.mean()),
                             "mask_png": png_b64(res.final.astype("uint8") * 255)})
            return pd.DataFrame(rows)

    return HairSegmenterModel


def log_segmenter(source: tuple[str | Path, dict[str, Any]], name: str, pip: list[str]):
    """``source``: (U²-Net model directory, ``segment`` settings as a dict)."""
    import mlflow

    model_dir, segment_config = source
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = Path(tmp) / "segment.json"
        cfg_path.write_text(json.dumps(segment_config, indent=1))
        return mlflow.pyfunc.log_model(
            name=ARTIFACT, python_model=_pyfunc_class()(),
            artifacts={"model_dir": str(model_dir), "segment_config": str(cfg_path)},
            pip_requirements=pip, registered_model_name=name)


def evaluate_segmenter(params, model_uri: str) -> dict[str, float]:
    """Dice/Jaccard/pixel-F1 of M on seg_eval's test rows."""
    import mlflow

    from scalpvision.io import read_image, read_mask
    from scalpvision.segmentation.evaluation import average, evaluation_rows, score_image
    from scalpvision.segmentation.store import load_logged_segmenter

    seg = load_logged_segmenter(Path(mlflow.artifacts.download_artifacts(
        artifact_uri=model_uri, dst_path=tempfile.mkdtemp(prefix="sv-"))))
    scores = [score_image(seg, read_image(r.path), read_mask(r.mask_path))[0]
              for r in evaluation_rows(params.seg_eval).itertuples()]
    return segmentation_metrics(average(scores))


def segmentation_metrics(avg: dict[str, dict[str, float]]) -> dict[str, float]:
    """The registry metrics of a segmenter from :func:`~.evaluation.average`'s table."""
    m = avg["ensemble (M)"]
    return {"test_dice": m["dice"], "test_jaccard": m["jaccard"],
            "test_pixel_f1_macro": m["pixel_f1_macro"]}


class ServedSegmenter:
    """Role ``segmenter``: adds ``mask`` (M, (H, W) bool) and ``area`` (the analysed area,
    (H, W) bool) to the context."""

    def __init__(self, model_path: Path):
        from scalpvision.segmentation.store import load_logged_segmenter

        self.segmenter = load_logged_segmenter(Path(model_path))

    def mask(self, rgb):
        return self.segmenter(rgb).final

    def answer(self, ctx):
        import time

        import numpy as np

        from scalpvision.serve.upload import png_b64
        from scalpvision.viz import overlay_mask

        from scalpvision.segmentation.area import analysed_area

        t0 = time.perf_counter()
        if "mask" in ctx:  # segmented already (the analyzer's /segment): only the area is new
            mask, area = ctx["mask"], analysed_area(ctx["rgb"])
        else:  # the segmenter found the analysed area on its way to M
            res = self.segmenter(ctx["rgb"])
            mask, area = res.final, res.area
        out = {"hair_fraction": float(mask.mean()), **area.summary(),
               "mask_png": png_b64(mask.astype(np.uint8) * 255),
               "overlay_png": png_b64(overlay_mask(ctx["rgb"], mask, (0, 255, 64), 0.55)),
               "seconds": round(time.perf_counter() - t0, 3)}
        return {"segmentation": out}, {"mask": mask, "area": area.mask}


KIND = register_kind(ModelKind(
    name="segmenter", log=log_segmenter, evaluate=evaluate_segmenter,
    serve=lambda path, params: ServedSegmenter(path),
    pip_packages=("torch", "opencv-python-headless", "scikit-image", "numpy", "pandas",
                  "pillow", "onnxruntime"),
    reads=("seg_eval",),
    description="U²-Net -> prompts -> refiner -> AND -> boundary step (hair mask M)"))
