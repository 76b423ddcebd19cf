"""`scalpvision compare` reads the runs the stages log (seg_eval scores, alopecia model runs and
the Table 7 ablation) from MLflow and lays them out per run, as markdown and plots."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml


def _log_pipeline_run(mlflow, dice_m, wf1, data_hash):
    with mlflow.start_run(run_name="seg_eval", tags={"stage": "seg_eval", "refiner": "grabcut"}):
        mlflow.log_dict({"average": {
            "ensemble (M)": {"dice": dice_m, "jaccard": dice_m - 0.1, "pixel_f1_macro": 0.9},
            "baseline: Kim (Otsu)": {"dice": 0.5, "jaccard": 0.4, "pixel_f1_macro": 0.7}},
            "ablation": {"ablation: pos M̂, no neg": {"dice": 0.6, "jaccard": 0.5,
                                                      "pixel_f1_macro": 0.8}}},
            "segmentation_scores.json")
    tags = {"table": "alopecia", "data_hash": data_hash}
    with mlflow.start_run(tags={**tags, "model_kind": "features_gbm"}):
        mlflow.log_metrics({"accuracy": wf1, "weighted_f1": wf1, "macro_f1": wf1 - 0.2})
        mlflow.log_table(pd.DataFrame({"features": ["a", "a + b"], "accuracy": [0.5, wf1],
                                       "weighted_f1": [0.4, wf1]}), "ablation_table7.json")
    with mlflow.start_run(tags={**tags, "model_kind": "image_cnn"}):
        mlflow.log_metrics({"accuracy": 0.6, "weighted_f1": 0.55, "macro_f1": 0.3})
    _log_classifier_runs(mlflow, wf1)


def _log_classifier_runs(mlflow, skill):
    """The classifier stage's runs: real evaluate() output of a skilled model and of majority."""
    import numpy as np

    from scalpvision.classification.metrics import evaluate, majority_proba

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, (60, 3))
    groups = np.arange(60) // 3
    onehot = {c: np.eye(4)[np.where(rng.uniform(size=60) < skill, y[:, k], 0)] * 0.9 + 0.025
              for k, c in enumerate(("dandruff", "sebum", "erythema"))}
    onehot["presence"] = np.stack([1 - onehot[c][:, 0] for c in ("dandruff", "sebum",
                                                                 "erythema")], 1)
    for kind, proba in (("four_head_cnn", onehot), ("majority_class", majority_proba(y, 60))):
        with mlflow.start_run(tags={"table": "classifier", "model_kind": kind,
                                    "variant": "gaussian", "backbone": "resnet10t"}):
            mlflow.log_dict(evaluate(y, proba, groups, n_boot=50), "evaluation.json")


@pytest.fixture()
def store(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    mlflow.set_experiment("t")
    _log_pipeline_run(mlflow, 0.71, 0.80, "h1")
    _log_pipeline_run(mlflow, 0.77, 0.84, "h2")
    mlflow.set_tracking_uri(None)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"tracking": {"uri": uri, "experiment": "t",
                                                   "artifact_dir": str(tmp_path / "art")}}))
    return tmp_path, params


def _run(repo, *args):
    return subprocess.run([sys.executable, "-m", "scalpvision.cli", "compare", *args],
                          capture_output=True, text=True, cwd=repo)


def test_compare_tables_and_plots(store, repo):
    tmp, params = store
    r = _run(repo, "--params", str(params), "--out", str(tmp / "cmp"))
    assert r.returncode == 0, r.stderr
    md = (tmp / "cmp" / "compare.md").read_text()
    t1 = md.split("## Table 1")[1].split("All metrics")[0]
    row = next(line for line in t1.splitlines() if line.startswith("| ensemble (M)"))
    assert "0.770" in row and "0.710" in row   # both runs side by side
    t4 = md.split("## Table 4")[1].split("All metrics")[0]
    assert t4.count("|") > 0 and "features_gbm" in t4 and "image_cnn" in t4
    cnn = next(line for line in t4.splitlines() if line.startswith("| image_cnn"))
    assert cnn.count("0.550") == 2             # the CNN run is grouped with its pipeline run
    t7 = md.split("## Table 7")[1]
    assert "| 2 | 0.840 | 0.800 |" in t7 or "| 2 | 0.800 | 0.840 |" in t7
    assert "0.600" in md.split("## Table 5")[1]
    t2 = md.split("## Table 2")[1].split("## Table 4")[0]
    cnn_rows = [line for line in t2.splitlines() if "four_head_cnn (resnet10t) | gaussian" in line]
    maj_rows = [line for line in t2.splitlines() if "majority_class | - |" in line]
    assert len(cnn_rows) == 2 and len(maj_rows) == 2   # both pipeline runs, side by side
    for line in cnn_rows + maj_rows:                    # macro-F1 [lo, hi], 12 cells (support)
        f1, lo, hi = (float(v) for v in
                      line.split("|")[4].replace("[", "").replace("]", "").replace(",", "")
                      .split())
        assert lo <= f1 <= hi
        assert len(line.split("|")) == 4 + 12 + 2 and line.count("(") >= 12
    for png in ("table1_segmentation_dice.png", "table4_alopecia_wf1.png",
                "table7_feature_ablation.png", "table2_conditions_macro_f1.png"):
        assert (tmp / "cmp" / png).stat().st_size > 1000


def test_compare_chosen_runs_and_unknown_run(store, repo):
    import mlflow

    tmp, params = store
    mlflow.set_tracking_uri(yaml.safe_load(params.read_text())["tracking"]["uri"])
    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.stage='seg_eval'",
                              order_by=["attributes.start_time ASC"])
    mlflow.set_tracking_uri(None)
    first = runs.run_id.iloc[0]
    r = _run(repo, "--params", str(params), "--out", str(tmp / "one"), "--runs", first)
    assert r.returncode == 0, r.stderr
    t1 = (tmp / "one" / "compare.md").read_text().split("## Table 1")[1].split("All")[0]
    assert "0.710" in t1 and "0.770" not in t1
    r = _run(repo, "--params", str(params), "--out", str(tmp / "x"), "--runs", "nosuchrun")
    assert r.returncode == 2 and "nosuchrun" in r.stderr
