"""Stage `aug_pairs`: the augmentation pairs (paper Algorithm 2): sources are train images with
a hair mask, targets any train image carrying the drawn (dandruff, sebum, erythema) triple;
inverse-frequency weights recomputed each round. Writes the pairs table (a DVC output) and how
the target grades are spread against the train split's."""

import argparse
import json
from pathlib import Path

import pandas as pd

from scalpvision.augment.generate import hair_mask_path
from scalpvision.augment.pairs import inverse_frequency, sample_pairs
from scalpvision.classification.model import CONDITIONS
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.errors import BadInputError
from scalpvision.ops.tracking import stage_run

PAIRS = "pairs.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    a = P.augment
    man = pd.read_csv(a.manifest)
    train = man[man.split == a.train_split].reset_index(drop=True)
    has_mask = train.path.map(lambda p: hair_mask_path(a.masks_dir, p).is_file())
    sources = train[has_mask]
    if sources.empty:
        raise BadInputError(f"{a.masks_dir}: no hair mask for any {a.train_split} image; run the "
                            "`hair_masks` stage with the train split")
    pp = a.pairs
    with stage_run("aug_pairs", {"augment": {"pairs": as_dict(pp)}}, P.tracking,
                   deps=[a.manifest, a.masks_dir], tags={"table": "augment"}) as _:
        import mlflow

        pairs, unserved = sample_pairs(train, sources, pp.n_pairs, pp.rounds, pp.more_severe,
                                       pp.seed)
        out = Path(a.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        pairs.to_csv(out / PAIRS, index=False)
        w0 = inverse_frequency(train[list(CONDITIONS)].to_numpy(int))
        spread = {c: {"train": train[c].value_counts(normalize=True).sort_index().round(3).to_dict(),
                      "targets": pairs[c].value_counts(normalize=True).sort_index().round(3).to_dict(),
                      "initial_weights": [round(float(v), 3) for v in w0[k]]}
                  for k, c in enumerate(CONDITIONS)}
        metrics = {"pairs": len(pairs), "sources": int(len(sources)),
                   "distinct_sources": int(pairs.source.nunique()),
                   "distinct_targets": int(pairs.target.nunique()),
                   "unserved_sources": len(unserved),
                   "max_target_reuse": int(pairs.target.value_counts().max()) if len(pairs) else 0}
        mlflow.log_metrics(metrics)
        mlflow.log_dict({"grade_shares": spread, "unserved": unserved}, "pairs_spread.json")
        mlflow.log_artifact(str(out / PAIRS))
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/aug_pairs.json").write_text(json.dumps(
        {**metrics, "grade_shares": spread}, indent=1))
    if unserved:
        print(f"{len(unserved)} sources got no target in some round (no image carries a "
              f"drawn triple within the redraw limit): {unserved[:5]}")
    print(f"augmentation pairs: {metrics} -> {out / PAIRS}")


if __name__ == "__main__":
    run_main(main)
