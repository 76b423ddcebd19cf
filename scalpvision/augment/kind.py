"""The ``diffusion_unet`` model kind: the offline-default denoising U-Net (diffusers format)
as an MLflow pyfunc (a ``path`` column -> the held-out denoising MSE of each image), re-scored
for promotion by its denoising MSE on the validation split. It generates augmented training
data; it plays no role in the service."""

from __future__ import annotations

import tempfile
from pathlib import Path

from scalpvision.errors import BadInputError, MissingInputError
from scalpvision.ops.kinds import ModelKind, register_kind

ARTIFACT = "diffusion_unet"
VAL_IMAGES = 64  # validation frames the denoising MSE is measured on


def _unet_dir(root: Path) -> Path:
    from scalpvision.augment.diffusion import SOURCE_FILE

    hits = [h.parent for h in sorted(Path(root).rglob(SOURCE_FILE))]
    if not hits:
        raise MissingInputError(f"{root}: no diffusion U-Net directory inside")
    return hits[0]


def _load(root: Path, dp):
    from dataclasses import replace

    from scalpvision.augment.diffusion import Schedule, load_backbone

    bb = load_backbone(replace(dp, source="trained"), _unet_dir(root))
    return bb, Schedule.linear(dp.schedule.timesteps, dp.schedule.beta_start,
                               dp.schedule.beta_end)


def val_denoise_mse(params, model_dir: Path) -> float:
    import pandas as pd

    from scalpvision.augment.diffusion import denoising_mse, frames_at

    dp = params.diffusion
    man = pd.read_csv(dp.manifest)
    val = man[man.split == dp.splits[1]].head(VAL_IMAGES)
    bb, sched = _load(model_dir, dp)
    return denoising_mse(bb, sched, frames_at(list(val.path), bb.size), dp.train.max_t,
                         dp.train.seed)


def _pyfunc_class():
    import mlflow.pyfunc

    class DiffusionUnetModel(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            import json

            from scalpvision.augment.diffusion import SOURCE_FILE

            d = _unet_dir(Path(context.artifacts["model_dir"]))
            self.dir, self.record = d, json.loads((d / SOURCE_FILE).read_text())

        def predict(self, context, model_input, params=None):
            import pandas as pd

            from scalpvision.augment.diffusion import (
                Backbone, Schedule, denoising_mse, frames_at,
            )
            from diffusers import UNet2DModel

            s = self.record["schedule"]
            unet = UNet2DModel.from_pretrained(self.dir)
            size = tuple(unet.config.sample_size)
            bb = Backbone(unet, size, "trained")
            sched = Schedule.linear(s["timesteps"], s["beta_start"], s["beta_end"])
            max_t = self.record["max_t"]
            return pd.DataFrame([{"path": str(p), "denoise_mse": denoising_mse(
                bb, sched, frames_at([p], size), max_t, 0)} for p in model_input["path"]])

    return DiffusionUnetModel


def log_unet(source: str | Path, name: str, pip: list[str]):
    """``source``: a U-Net directory (:func:`~scalpvision.augment.diffusion.save_backbone_dir`)."""
    import mlflow

    return mlflow.pyfunc.log_model(name=ARTIFACT, python_model=_pyfunc_class()(),
                                   artifacts={"model_dir": str(source)},
                                   pip_requirements=pip, registered_model_name=name)


def evaluate_unet(params, model_uri: str) -> dict[str, float]:
    import mlflow

    local = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=model_uri, dst_path=tempfile.mkdtemp(prefix="sv-")))
    return {"val_denoise_mse": val_denoise_mse(params, local)}


def _no_role(path, params):
    raise BadInputError("the diffusion U-Net generates training data; it has no serving role "
                        "(remove it from serve.models)")


KIND = register_kind(ModelKind(
    name="diffusion_unet", log=log_unet, evaluate=evaluate_unet, serve=_no_role,
    pip_packages=("torch", "diffusers", "numpy", "pandas", "opencv-python-headless", "pillow"),
    reads=("diffusion",),
    description="denoising U-Net (diffusers) trained on the train split: DiffuseIT-M's backbone"))
