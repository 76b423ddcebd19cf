"""Stage `promote`: champion/challenger for every registered model in ``promote.models``.

The candidate is the version the pipeline just registered (``registered_version`` in the
model's metrics file). It takes the champion alias only when it beats the champion on the same
frozen test set; an old champion scored on another test set is re-scored on this one first.
Each decision goes to the DVC-tracked audit file, to registry tags and to a `promote` run."""

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from scalpvision.config import as_dict, load_section
from scalpvision.entry import run_main
from scalpvision.promotion import apply, decide
from scalpvision.tracking import stage_run

log = logging.getLogger("promote")


def _segmenter_evaluator(params: str):
    """Re-score a registered segmenter version on seg_eval's test rows (Dice/Jaccard/F1 of M)."""
    def evaluate(name: str, version: str) -> dict[str, float]:
        import tempfile

        import mlflow

        from scalpvision.io import read_image, read_mask
        from scalpvision.segmentation.evaluation import average, evaluation_rows, score_image
        from scalpvision.segmentation.store import load_logged_segmenter

        e = load_section("seg_eval", params)
        seg = load_logged_segmenter(Path(mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=tempfile.mkdtemp(prefix="sv-"))))
        test = evaluation_rows(e)
        scores = [score_image(seg, read_image(r.path), read_mask(r.mask_path))[0]
                  for r in test.itertuples()]
        m = average(scores)["ensemble (M)"]
        return {"test_dice": m["dice"], "test_jaccard": m["jaccard"],
                "test_pixel_f1_macro": m["pixel_f1_macro"]}
    return evaluate


def _alopecia_evaluator(params: str):
    """Re-score a registered alopecia version on the current feature table's test rows."""
    def evaluate(name: str, version: str) -> dict[str, float]:
        import mlflow

        from scalpvision.alopecia.model import check_features
        from scalpvision.alopecia.model import evaluate as score

        a = load_section("alopecia", params)
        df = pd.read_csv(a.features)
        test = df[df.split == a.eval_split].reset_index(drop=True)
        model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
        r = score(test[a.target].to_numpy(int),
                  model.predict(check_features(test, a.feature_names, "test")))
        return {f"test_{k}": float(r[k]) for k in ("accuracy", "weighted_f1", "macro_f1")}
    return evaluate


EVALUATORS = {"segmenter": _segmenter_evaluator, "alopecia": _alopecia_evaluator}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_section("promote", args.params)
    tracking = load_section("tracking", args.params)
    audit = Path(p.audit_file)
    summary = {}
    with stage_run("promote", {"promote": as_dict(p)}, tracking,
                   deps=[r.candidate_from for r in p.models]) as _:
        import mlflow
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        for rule in p.models:
            if rule.kind not in EVALUATORS:
                raise ValueError(f"promote.models: {rule.name} has kind {rule.kind!r}; "
                                 f"known kinds: {sorted(EVALUATORS)}")
            src = Path(rule.candidate_from)
            if not src.is_file():
                raise FileNotFoundError(f"{src}: no metrics file, so no candidate version for "
                                        f"{rule.name} (run the stage that registers it)")
            candidate = json.loads(src.read_text()).get("registered_version")
            if not candidate:
                raise ValueError(f"{src}: no 'registered_version' for {rule.name}")
            evaluator = EVALUATORS[rule.kind](args.params) if p.rescore_champion else None
            d = decide(client, rule.name, str(candidate), rule.metric, rule.margin,
                       rule.higher_is_better, p.alias, evaluator)
            apply(client, d, audit, p.alias)
            key = rule.name.replace("-", "_")
            mlflow.set_tags({f"{key}.decision": "promoted" if d.promoted else "kept",
                             f"{key}.champion": d.to_version, f"{key}.reason": d.reason})
            mlflow.log_metrics({f"{key}.candidate_{rule.metric}": d.candidate_value,
                                **({f"{key}.champion_{rule.metric}": d.champion_value}
                                   if d.champion_value is not None else {})})
            summary[rule.name] = {"candidate": d.candidate_version, "champion": d.to_version,
                                  "promoted": d.promoted, rule.metric: d.candidate_value,
                                  "champion_value": d.champion_value, "reason": d.reason}
            log.info("%s: %s", rule.name, d.reason)
            print(f"{rule.name}: candidate v{d.candidate_version} -> "
                  f"{'PROMOTED' if d.promoted else 'kept'}; champion v{d.to_version} ({d.reason})")
        mlflow.log_artifact(str(audit), artifact_path="registry")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/promotion.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    run_main(main)
