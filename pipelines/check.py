"""Stage `check`: Great Expectations suite over the manifest; fails the pipeline on violations."""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from data_checks.manifest_suite import leakage_summary, run_manifest_checks
from data_checks.report import write_report
from scalpvision.config import as_dict, load_params
from scalpvision.entry import run_main
from scalpvision.ops.tracking import stage_run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    p = P.check
    imp = P["import"]
    tracking = P.tracking
    df = pd.read_csv(p.manifest)
    with stage_run("check", {"check": as_dict(p)}, tracking, deps=[p.manifest]) as _:
        import mlflow

        outcome = run_manifest_checks(df, imp.expected_width, imp.expected_height,
                                      p.min_images_per_grade, p.check_files)
        leak = leakage_summary(df)
        report = write_report(outcome, p.report_dir, f"Data checks: {p.manifest}", leak)
        stats = {"success": int(outcome.success), "expectations": len(outcome.results),
                 "failed": len(outcome.failed), "rows": outcome.rows, **leak}
        mlflow.log_metrics({k: float(v) for k, v in stats.items()})
        mlflow.log_artifact(str(report))
    Path("metrics/check.json").write_text(json.dumps(stats, indent=1))
    for r in outcome.failed:
        print(f"FAILED {r['expectation']} {r['column']} ({r['scope']}): "
              f"{r['unexpected_count']} unexpected, e.g. {r['partial_unexpected'][:3]}",
              file=sys.stderr)
    print(f"data checks {'passed' if outcome.success else 'FAILED'}: {len(outcome.results)} "
          f"expectations, report {report}")
    return 0 if outcome.success else 1


if __name__ == "__main__":
    run_main(main)
