"""Stage `diffusion`: the denoising U-Net DiffuseIT-M samples with. With ``diffusion.source:
trained`` (the offline default) a small U-Net is trained here on the **train split only**
(crops and flips; noise levels up to ``train.max_t``), scored by its denoising MSE on the
validation split, and registered as kind ``diffusion_unet``; with ``diffusers`` or ``adm``
the local model is loaded once to check it and recorded, not copied."""

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from scalpvision.augment.diffusion import (
    SOURCE_FILE, Schedule, denoising_mse, frames_at, load_backbone, save_backbone_dir, train_unet,
)
from scalpvision.augment.kind import VAL_IMAGES
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.errors import BadInputError
from scalpvision.ops.registry import register
from scalpvision.ops import distributed
from scalpvision.ops.tracking import git_revision, stage_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    dp = P.diffusion
    man = pd.read_csv(dp.manifest)
    (tr_name, va_name) = dp.splits
    train, val = man[man.split == tr_name], man[man.split == va_name]
    if train.empty:
        raise BadInputError(f"{dp.manifest}: split {tr_name!r} is empty")
    out = Path(dp.out_dir)
    sched = Schedule.linear(dp.schedule.timesteps, dp.schedule.beta_start, dp.schedule.beta_end)
    metrics = {"source": dp.source}
    replica = distributed.start(P.execution.train_processes if dp.source == "trained" else 1)
    torch.set_num_threads(replica.threads(dp.threads))
    big = (dp.height * 2, dp.width * 2)  # crops are taken at twice the model frame
    if not replica.main:  # a DDP worker: its share of the gradients; rank 0 validates and writes
        train_unet(frames_at(list(train.path), big), None, dp, replica=replica)
        return distributed.stop(replica)
    with stage_run("diffusion", {"diffusion": as_dict(dp)}, P.tracking,
                   deps=[dp.manifest], tags={"model_kind": "diffusion_unet",
                                            "backbone_source": dp.source,
                                            "ddp_processes": str(replica.world)}) as run:
        import mlflow

        val_frames = frames_at(list(val.path.head(VAL_IMAGES)), (dp.height, dp.width))
        if dp.source == "trained":
            frames = frames_at(list(train.path), big)
            unet, rec = train_unet(frames, val_frames, dp, replica=replica,
                                   on_epoch=lambda ep, h: mlflow.log_metrics(
                {"loss": h["loss"], "epoch_seconds": h["seconds"]}, step=ep + 1))
            save_backbone_dir(out, unet, {
                "source": "trained", "max_t": dp.train.max_t, "schedule": as_dict(dp.schedule),
                "train_images": len(train), "mlflow_run_id": run.info.run_id, **rec})
            mlflow.log_metrics({"val_denoise_mse": rec["val_denoise_mse"],
                                "parameters": rec["parameters"]})
            version = register("diffusion_unet", out, dp.register_name,
                               {"val_denoise_mse": rec["val_denoise_mse"]},
                               {"git.commit": git_revision(Path("."))[0],
                                "train_images": str(len(train))})
            metrics.update(val_denoise_mse=round(rec["val_denoise_mse"], 5),
                           parameters=rec["parameters"], registered_version=version,
                           train_seconds=round(sum(h["seconds"] for h in rec["history"]), 1),
                           train_images=len(train))
        else:  # a local diffusers directory or ADM checkpoint: checked, recorded, not copied
            bb = load_backbone(dp)
            mse = denoising_mse(bb, sched, val_frames, dp.train.max_t, dp.train.seed, levels=2)
            out.mkdir(parents=True, exist_ok=True)
            (out / SOURCE_FILE).write_text(json.dumps(
                {"source": dp.source, "path": dp.path, "size": bb.size,
                 "val_denoise_mse": mse}, indent=1))
            mlflow.log_metric("val_denoise_mse", mse)
            metrics.update(val_denoise_mse=round(mse, 5), path=dp.path, registered=False,
                           why=f"diffusion.source={dp.source}: the local model is used as is")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/diffusion.json").write_text(json.dumps(metrics, indent=1))
    print(f"diffusion U-Net ({dp.source}): {metrics}")
    distributed.stop(replica)


if __name__ == "__main__":
    run_main(main)
