"""Stage `guidance_encoder`: the ViT the DiffuseIT-M loss reads. With ``guidance.source:
trained`` (the offline default) a small in-domain ViT is trained here **supervised on the train
split's condition labels** (the classifier's four-head loss) at the diffusion frame and kept at
its best validation macro-F1; it is reported as "scalp-vit (in-domain, supervised)", never as
DINO. With ``dino`` the local checkpoint is loaded once to check it and recorded."""

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from scalpvision.augment.diffusion import frames_at
from scalpvision.augment.encoder import CONFIG, load_encoder, save_encoder_dir, train_scalp_vit
from scalpvision.classification.model import CONDITIONS
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.ops.tracking import stage_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    gp, dp = P.guidance, P.diffusion
    torch.set_num_threads(gp.threads)
    man = pd.read_csv(gp.manifest)
    out = Path(gp.out_dir)
    metrics = {"source": gp.source}
    with stage_run("guidance_encoder", {"guidance": as_dict(gp)}, P.tracking, deps=[gp.manifest],
                   tags={"model_kind": "guidance_encoder", "encoder_source": gp.source}) as _:
        import mlflow

        if gp.source == "trained":
            tr, va = (man[man.split == s] for s in gp.splits)
            size = (dp.height, dp.width)
            vit, rec = train_scalp_vit(
                frames_at(list(tr.path), size), tr[list(CONDITIONS)].to_numpy(int),
                frames_at(list(va.path), size), va[list(CONDITIONS)].to_numpy(int),
                va.group.to_numpy(), gp, P.classifier.train, P.classifier.model,
                P.classifier.presence_gate, on_epoch=lambda ep, h: mlflow.log_metrics(
                    {"loss": h["loss"], "val_macro_f1": h["val_macro_f1"]}, step=ep + 1))
            save_encoder_dir(out, vit, gp, rec)
            mlflow.log_artifact(str(out / CONFIG))
            metrics.update(name=json.loads((out / CONFIG).read_text())["name"],
                           best_val_macro_f1=round(rec["best_val_macro_f1"], 4),
                           train_seconds=round(sum(h["seconds"] for h in rec["history"]), 1),
                           parameters=int(sum(p.numel() for p in vit.parameters())))
        else:
            enc = load_encoder(gp)
            out.mkdir(parents=True, exist_ok=True)
            (out / CONFIG).write_text(json.dumps(
                {"source": "dino", "name": enc.name, "checkpoint": gp.checkpoint}, indent=1))
            metrics.update(name=enc.name, checkpoint=gp.checkpoint)
        mlflow.set_tag("encoder_name", metrics["name"])
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/guidance_encoder.json").write_text(json.dumps(metrics, indent=1))
    print(f"guidance encoder: {metrics}")


if __name__ == "__main__":
    run_main(main)
