"""Stage `u2net`: train U²-Net on pseudo pairs, validate every epoch, keep the best, register it.

With ``u2net.self_training_images`` > 0 the model then labels that many unlabelled training
images itself (U²-Net -> prompts -> refiner, as ``segment`` configures it; their ground-truth
masks are never read) and trains on them for ``self_training_epochs`` more epochs."""

import argparse
import functools
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from scalpvision.ops import distributed
from scalpvision.ops.checkpoints import save_model_dir
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.segmentation.train import resolve_device, seeded_u2net, train_u2net
from scalpvision.ops.tracking import content_hash, stage_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.u2net
    pseudo = P.pseudo
    tracking = P.tracking
    t = replace(p.train, device=resolve_device(p.train.device))
    replica = distributed.start(P.execution.train_processes, t.device)  # torchrun -> DDP
    torch.set_num_threads(replica.threads(p.threads))
    pairs = pd.read_csv(Path(pseudo.out_dir) / "pairs.csv")
    train = list(pairs.loc[pairs.split == "train", ["image", "mask"]].itertuples(index=False))
    val = list(pairs.loc[pairs.split == "val", ["image", "mask"]].itertuples(index=False))
    man = pd.read_csv(pseudo.manifest)
    real_val = man[(man.split == "val") & man.get("mask_path", pd.Series(dtype=str)).notna()]
    real_val = list(real_val[["path", "mask_path"]].head(p.val_real_images).itertuples(index=False))
    val_sets = {"pseudo": val[:p.val_pseudo_pairs], **({"real": real_val} if real_val else {})}
    model = seeded_u2net(p.variant, t.seed, checkpoint=p.checkpoint or None)
    self_labels = None
    if p.self_training_images > 0 and t.self_training_epochs > 0:
        seg_params = P.segment
        unlabelled = man.loc[man.split == "train", "path"].head(p.self_training_images).tolist()

        def self_labels(m):
            from scalpvision.io import iter_images
            from scalpvision.segmentation.store import segmenter_for
            from scalpvision.segmentation.train import self_label

            seg = segmenter_for(m, seg_params, t.infer_long_side)
            loaded = list(iter_images(unlabelled))
            out = []
            for (f, img), (_, res) in zip(loaded, seg.map(loaded)):
                if isinstance(res, Exception):  # reported, the others still label
                    print(f"self-training: skipped {f}: {res}")
                else:
                    out.append((img, *self_label(res)))
            m.train()
            return out

    fit = functools.partial(train_u2net, model, train, val_sets, t, replica=replica,
                            select_on="real" if real_val else "pseudo", self_labels=self_labels)
    if not replica.main:  # a DDP worker: its share of the gradients; rank 0 validates and writes
        fit()
        return distributed.stop(replica)
    with stage_run("u2net", {"u2net": as_dict(p)}, tracking,
                   deps=[pseudo.out_dir], tags={"model": f"u2net-{p.variant}", "device": t.device,
                                                "init": p.checkpoint or "random",
                                                "ddp_processes": str(replica.world)}) as run:
        import mlflow

        best, history = fit(on_epoch=lambda ep, rec: mlflow.log_metrics(
            {k: float(v) for k, v in rec.items() if k not in ("epoch", "best")}, step=ep))
        model.load_state_dict(best)
        best_rec = max(history, key=lambda r: r.get("val_dice_real", r.get("val_dice_pseudo", 0)))
        config = {"builder": "u2net", "kwargs": {"variant": p.variant},
                  "preprocessing": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                    "scale": "1/255", "infer_long_side": t.infer_long_side},
                  "threshold": 0.5, "trained_on": pseudo.out_dir,
                  "data_hash": content_hash(Path(pseudo.out_dir) / "pairs.csv"),
                  "best_epoch": best_rec["epoch"], "mlflow_run_id": run.info.run_id,
                  "history": history}
        out = save_model_dir(p.out_dir, model, config)
        mlflow.log_metrics({f"best_{k}": float(v) for k, v in best_rec.items()
                            if k.startswith("val_dice")})
        mlflow.log_artifacts(str(out), artifact_path="model_dir")
    summary = {"best_epoch": best_rec["epoch"],
               **{k: round(v, 4) for k, v in best_rec.items() if k.startswith("val_dice")},
               "epochs": len(history), "train_pairs": len(train),
               "seconds_per_epoch": round(sum(r["seconds"] for r in history) / len(history), 1)}
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/u2net.json").write_text(json.dumps(summary, indent=1))
    print(f"U²-Net ({p.variant}) trained: {summary} -> {out}")
    distributed.stop(replica)


if __name__ == "__main__":
    run_main(main)
