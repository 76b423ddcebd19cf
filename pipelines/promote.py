"""Stage `promote`: champion/challenger for every registered model in ``promote.models``.

The candidate is the version the pipeline just registered (``registered_version`` in the
model's metrics file). It takes the champion alias only when it beats the champion on the same
frozen test set; an old champion scored on another test set is re-scored on this one first, by
its model kind. Each decision goes to the DVC-tracked audit file, to registry tags and to a
`promote` run."""

import argparse
import json
import logging
from pathlib import Path

from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.errors import BadInputError, MissingInputError
from scalpvision.ops.kinds import get_kind
from scalpvision.ops.promotion import apply, decide
from scalpvision.ops.tracking import stage_run

log = logging.getLogger("promote")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.promote
    tracking = P.tracking
    kinds = {rule.name: get_kind(rule.kind) for rule in p.models}  # unknown kind: fail first
    # a kind re-scores on the sections it declares (its evaluation sets); dvc.yaml lists them
    evaluation = P.subset(*sorted({s for k in kinds.values() for s in k.reads}))
    audit = Path(p.audit_file)
    summary = {}
    with stage_run("promote", {"promote": as_dict(p)}, tracking,
                   deps=[r.candidate_from for r in p.models]) as _:
        import mlflow
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        for rule in p.models:
            src = Path(rule.candidate_from)
            if not src.is_file():
                raise MissingInputError(f"{src}: no metrics file, so no candidate version for "
                                        f"{rule.name} (run the stage that registers it)")
            kind = kinds[rule.name]
            cand_info = json.loads(src.read_text())
            candidate = cand_info.get("registered_version")
            if not candidate and cand_info.get("registered") is False:  # a local model used as is
                print(f"{rule.name}: nothing registered ({cand_info.get('why', 'not trained here')})")
                summary[rule.name] = {"kind": kind.name, "candidate": "-", "champion": "-",
                                      "promoted": False, "reason": cand_info.get("why", "")}
                continue
            if not candidate:
                raise BadInputError(f"{src}: no 'registered_version' for {rule.name}")
            evaluator = (lambda name, version, kind=kind: kind.evaluate(
                evaluation, f"models:/{name}/{version}")) if p.rescore_champion else None
            d = decide(client, rule.name, str(candidate), rule.metric, rule.margin,
                       rule.higher_is_better, p.alias, evaluator)
            apply(client, d, audit, p.alias)
            key = rule.name.replace("-", "_")
            mlflow.set_tags({f"{key}.decision": "promoted" if d.promoted else "kept",
                             f"{key}.champion": d.to_version, f"{key}.reason": d.reason})
            mlflow.log_metrics({f"{key}.candidate_{rule.metric}": d.candidate_value,
                                **({f"{key}.champion_{rule.metric}": d.champion_value}
                                   if d.champion_value is not None else {})})
            summary[rule.name] = {"kind": kind.name, "candidate": d.candidate_version,
                                  "champion": d.to_version, "promoted": d.promoted,
                                  rule.metric: d.candidate_value,
                                  "champion_value": d.champion_value, "reason": d.reason}
            log.info("%s: %s", rule.name, d.reason)
            print(f"{rule.name}: candidate v{d.candidate_version} -> "
                  f"{'PROMOTED' if d.promoted else 'kept'}; champion v{d.to_version} ({d.reason})")
        mlflow.log_artifact(str(audit), artifact_path="registry")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/promotion.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    run_main(main)
