"""Stage `augment`: DiffuseIT-M (paper §3.3) and its baselines over the pairs table.

The models (U-Net, guidance encoder, segmenter, classifier) are loaded once. Each set in
``augment.methods`` is generated for every pair and written with its manifest (a DVC output
the classifier's ``manifest`` variant reads). On the first ``augment.eval.pairs`` pairs every
method, the other sampler mode and the mask ablation (paper Fig. 7) are generated with the same
seeds and compared: hair preservation (paper Table 6), condition transfer (the classifier
trained on real images only, and the classical scalp statistics), realism on the in-domain
encoder and memorisation. One MLflow run per generation run (tag ``table=augment``)."""

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from scalpvision.augment.assess import Assessor
from scalpvision.augment.diffusion import Schedule, load_backbone
from scalpvision.augment.encoder import load_encoder
from scalpvision.augment.generate import (
    MANIFEST, GenerateShards, generate_set, hair_mask_path, merge_sets, set_dir,
)
from scalpvision.augment.sampler import Sampler
from scalpvision.classification.predictor import load_classifier_dir
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.io import read_image, read_mask
from scalpvision.ops.engine import collect, fingerprint, run_shards
from scalpvision.ops.tracking import stage_run
from scalpvision.segmentation.store import build_segmenter
from scalpvision.viz import contact_sheet

PAIRS = "pairs.csv"
COLUMNS = [("images", "N", "{:.0f}"), ("seconds_per_image", "s/img", "{:.2f}"),
           ("unet_forward_per_image", "U-Net fwd", "{:.0f}"),
           ("unet_backward_per_image", "U-Net bwd", "{:.0f}"),
           ("encoder_forward_per_image", "enc fwd", "{:.0f}"),
           ("hair_dice", "hair Dice", "{:.3f}"), ("hair_jaccard", "Jaccard", "{:.3f}"),
           ("hair_pixel_f1", "pixel-F1", "{:.3f}"), ("reach", "reach target", "{:.3f}"),
           ("reach_source", "source at target", "{:.3f}"), ("toward", "toward", "{:.3f}"),
           ("erythema_colour_toward", "a* toward", "{:.3f}"),
           ("kid_scalpvit", "KID (scalp-vit)", "{:.4f}"),
           ("fd_scalpvit", "FD (scalp-vit)", "{:.2f}"),
           ("nn_distance_generated_median", "NN dist", "{:.3f}"), ("copies", "copies", "{:.3f}")]


def table_markdown(rows: dict[str, dict]) -> str:
    head = "| run | " + " | ".join(h for _, h, _ in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    for name, m in rows.items():
        cells = [(f.format(m[k]) if isinstance(m.get(k), (int, float)) and np.isfinite(m[k])
                  else "–") for k, _, f in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def generate_bulk(rows, paths, a, dp, gp, ex, target: Path, run: tuple, name: str):
    """One augmented set through the execution engine (shards of whole batches, so every
    engine writes the same images); returns the set (images as written) and its counters."""
    shard = -(-ex.shard_size // a.batch_size) * a.batch_size
    ex = replace(ex, shard_size=shard)
    items = json.loads(rows.reset_index(names="_index").to_json(orient="records"))
    task = GenerateShards(a, dp, gp, paths, *run)
    work = Path(f"{target}.shards")
    key = fingerprint("augment", run, as_dict(a), as_dict(dp), as_dict(gp), items,
                      files=[dp.out_dir, gp.out_dir, a.masks_dir, *paths.values()])
    records = run_shards(task, items, ex, work, key, progress=lambda it, n: tqdm(
        it, total=n, desc=f"{name} ({ex.engine})", unit="shard"))
    collect(work, key, target)
    return merge_sets(records, target)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    a, dp, gp, c = P.augment, P.diffusion, P.guidance, P.classifier
    ex = P.execution
    torch.set_num_threads(a.threads)
    man = pd.read_csv(a.manifest)
    paths = dict(zip(man.image_id, man.path))
    pairs = pd.read_csv(Path(a.out_dir) / PAIRS, dtype={"source_label": str, "target_label": str})
    backbone = load_backbone(dp, dp.out_dir)
    encoder = load_encoder(gp, gp.out_dir)
    sched = Schedule.linear(dp.schedule.timesteps, dp.schedule.beta_start, dp.schedule.beta_end)
    seg, _ = build_segmenter(P.u2net.out_dir, P.segment)
    clf = load_classifier_dir(Path(c.out_dir))  # trained on real images only
    train = man[man.split == a.train_split]
    val = man[man.split == "val"]
    assessor = Assessor(seg, clf, encoder, backbone.size, [read_image(p) for p in train.path],
                        [read_image(p) for p in val.path], train.image_id, a.eval, a.seed)
    n_eval = min(a.eval.pairs, len(pairs))
    ev = pairs.head(n_eval)
    src_im = [read_image(paths[s]) for s in pairs.source]
    src_mask = [read_mask(hair_mask_path(a.masks_dir, paths[s])).astype(bool) for s in pairs.source]
    trg_im = [read_image(paths[t]) for t in pairs.target]
    lp = assessor.lpips
    samplers = {a.sampler.mode: Sampler(backbone, encoder, sched, a.sampler, lp)}
    other = a.eval.ablation_mode
    if other not in samplers:
        samplers[other] = Sampler(backbone, encoder, sched, replace(a.sampler, mode=other), lp)
    cm, cm_other = a.colour_match, "none" if a.colour_match == "scalp" else "scalp"
    runs = [(m, a.sampler.mode, a.mask, cm, True) for m in a.methods]
    runs += [(m, a.sampler.mode, a.mask, cm, False) for m in ("diffuseit_m", "diffuseit", "sdedit")
             if m not in a.methods]
    if other != a.sampler.mode:
        runs.append(("diffuseit_m", other, a.mask, cm, False))
    runs += [("diffuseit_m", a.sampler.mode, mk, cm, False) for mk in a.eval.masks if mk != a.mask]
    runs += [(m, a.sampler.mode, a.mask, cm_other, False) for m in ("diffuseit_m", "sdedit")]
    out, rep = Path(a.out_dir), Path(a.report_dir)
    rep.mkdir(parents=True, exist_ok=True)
    table, bulk, sheets = {}, {}, {}
    tags = {"table": "augment", "backbone": backbone.source, "encoder": encoder.name}
    for method, mode, mask, colour, is_bulk in runs:
        name = f"{method} ({mode}, m={mask}" + ("" if colour == cm else f", colour {colour}") + ")"
        sampler = samplers[mode]
        rows = pairs if is_bulk else ev
        target = set_dir(out, method) if is_bulk else None
        if target is not None and target.exists():
            shutil.rmtree(target)
        with stage_run(f"augment_{method}", {"augment": as_dict(a)}, P.tracking,
                       deps=[str(Path(a.out_dir) / PAIRS), dp.out_dir, gp.out_dir],
                       tags={**tags, "method": method, "mode": mode, "mask": mask,
                             "colour_match": colour, "bulk": str(is_bulk)}) as _:
            import mlflow

            if is_bulk:  # the DVC output: sharded on the execution engine, resumable
                res, counts = generate_bulk(rows, paths, a, dp, gp, ex, target,
                                            (method, mode, mask, colour), name)
            else:
                c0 = sampler.counters
                before = (c0.unet_forward, c0.unet_backward, c0.encoder_forward)
                res = generate_set(rows, paths, a.masks_dir, sampler, method, mask, colour,
                                   a.batch_size, a.seed, target, keep=True,
                                   progress=lambda it, nm=name: tqdm(it, desc=nm, unit="batch"))
                counts = (c0.unet_forward - before[0], c0.unet_backward - before[1],
                          c0.encoder_forward - before[2])
            n = max(len(res.images), 1)
            ok = res.positions  # pairs whose inputs were readable, in order
            pick = lambda lst, pos: [lst[i] for i in pos]  # noqa: E731
            cost = {"seconds_per_image": res.seconds / n,
                    "unet_forward_per_image": counts[0] / n,
                    "unet_backward_per_image": counts[1] / n,
                    "encoder_forward_per_image": counts[2] / n}
            if target is not None:
                res.manifest().to_csv(target / MANIFEST, index=False)
                full = assessor.score(res.images, rows.iloc[ok], pick(src_im, ok),
                                      pick(src_mask, ok), pick(trg_im, ok), 0)
                bulk[name] = {**full, **cost}
                mlflow.log_metrics({f"set_{k}": v for k, v in full.items()
                                    if isinstance(v, float) and np.isfinite(v)})
            e_ok = [i for i in ok if i < n_eval]
            k = len(e_ok)
            m = assessor.score(res.images[:k], ev.iloc[e_ok], pick(src_im, e_ok),
                               pick(src_mask, e_ok), pick(trg_im, e_ok), k)
            m.update(cost)
            table[name] = m
            mlflow.log_metrics({k_: v for k_, v in m.items()
                                if isinstance(v, (int, float)) and np.isfinite(v)})
            if res.failed:
                mlflow.log_text("\n".join(f"{p}: {w}" for p, w in res.failed), "quarantined.txt")
                print(f"{name}: {len(res.failed)} pairs quarantined, e.g. {res.failed[0]}")
            sheets[(method, mode, mask, colour)] = res.images[:a.eval.contact_rows]
    # contact sheet: source | target | DiffuseIT | DiffuseIT-M | mask
    mode = a.sampler.mode
    cols = []
    shown = [sheets[(mth, mode, a.mask, cm)] for mth in ("diffuseit", "diffuseit_m")]
    for i in range(min(a.eval.contact_rows, n_eval, *map(len, shown))):
        hair = (src_mask[i][..., None] * np.array([255, 255, 255])).astype(np.uint8)
        cols += [src_im[i], trg_im[i], shown[0][i], shown[1][i], hair]
    caps = [f"{s}{i // 5}" for i, s in enumerate(
        ["source ", "target ", "DiffuseIT ", "DiffuseIT-M ", "mask M "] * (len(cols) // 5))]
    sheet_path = rep / "contact_sheet.jpg"
    from scalpvision.io import write_image

    write_image(sheet_path, contact_sheet(cols, caps, cols=5, tile_w=256))
    text = (f"### DiffuseIT-M and its baselines on the same {n_eval} pairs\n\nBackbone: "
            f"{backbone.source} at {backbone.size[1]}×{backbone.size[0]}; guidance encoder: "
            f"{encoder.name}. Hair preservation: the pipeline's segmenter on the 640×480 result "
            "vs the source's mask (paper Table 6). Transfer: the classifier trained on real "
            "images only; *reach* = share predicted at the target grade (pairs whose grade "
            "changes), *source at target* = the same for the untouched sources, *toward* = "
            "moved in the target's direction; *a\\* toward* = the classical redness statistic "
            "moved toward the target image's. KID/FD on the in-domain encoder's CLS features "
            f"(not Inception) against {len(val)} real validation images; NN dist = median "
            "cosine distance to the nearest training image (real validation images: "
            f"{table[next(iter(table))]['nn_distance_real_median']:.3f}).\n\n"
            + table_markdown(table)
            + f"\n### The augmented sets ({len(pairs)} pairs each; DVC outputs under "
            f"`{a.out_dir}/sets/<method>/`)\n\n" + table_markdown(bulk)
            + "\nContact sheet: `contact_sheet.jpg` beside this file and in the MLflow run.\n")
    (rep / "table.md").write_text(text)
    (rep / "results.json").write_text(json.dumps({"eval": table, "sets": bulk}, indent=1,
                                                 default=float))
    with stage_run("augment_comparison", {"augment": as_dict(a)}, P.tracking,
                   tags={**tags, "table": "augment_comparison"}):
        import mlflow

        mlflow.log_artifacts(str(rep), artifact_path="augment")
    key = lambda mth: f"{mth} ({a.sampler.mode}, m={a.mask})"  # noqa: E731 - the runs' names
    summary = {"eval_pairs": n_eval, "pairs": len(pairs), "encoder": encoder.name,
               "backbone": backbone.source}
    for mth in ("diffuseit_m", "diffuseit", "sdedit"):
        r = table.get(key(mth), {})
        for k_ in ("hair_dice", "reach", "reach_source", "seconds_per_image", "kid_scalpvit"):
            if k_ in r:
                summary[f"{mth}_{k_}"] = round(float(r[k_]), 4)
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/augment.json").write_text(json.dumps(summary, indent=1))
    print(text)


if __name__ == "__main__":
    run_main(main)
