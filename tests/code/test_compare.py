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
    for png in ("table1_segmentation_dice.png", "table4_alopecia_wf1.png",
                "table7_feature_ablation.png"):
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
