"""Alopecia model: paper hyper-parameters, clear feature errors, metrics, ablation, skops round trip."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _params import PAPER
from _params import gbm as GbmParams
from scalpvision.alopecia.kind import load_alopecia_dir, save_alopecia_dir
from scalpvision.alopecia.model import ablation, build_model, check_features, evaluate, fit_eval
from scalpvision.features.table import PAPER_FEATURES


def _frame(n, seed):
    rng = np.random.default_rng(seed)
    grade = rng.integers(0, 4, n)
    df = pd.DataFrame({"hair_count": 45 - 11 * grade + rng.normal(0, 2, n),
                       "mean": 8.5 - 1.4 * grade + rng.normal(0, 0.3, n)})
    df["median"], df["iqr_mean"], df["iqr_median"] = df["mean"], df["mean"], df["mean"]
    df["length"] = df.hair_count * 6
    df["alopecia"] = grade
    return df


def test_paper_hyper_parameters():
    g = build_model(PAPER.alopecia.gbm).named_steps["gbm"]
    assert (g.learning_rate, g.max_depth, g.n_estimators, g.random_state) == (0.01, 5, 300, 0)


def test_learns_a_separable_grade_and_ablation_has_one_row_per_feature():
    train, test = _frame(200, 0), _frame(60, 1)
    p = GbmParams(n_estimators=60)
    _, r = fit_eval(train, test, list(PAPER_FEATURES), "alopecia", p)
    assert r["accuracy"] > 0.9 and r["weighted_f1"] > 0.9
    assert np.array(r["confusion"]).sum() == 60
    abl = ablation(train, test, list(PAPER_FEATURES), "alopecia", p)
    assert len(abl) == 6 and abl.features.iloc[-1].endswith("hair_count")


def test_missing_or_nan_feature_is_named():
    df = _frame(5, 0)
    with pytest.raises(ValueError, match="missing feature column"):
        check_features(df.drop(columns="mean"), PAPER_FEATURES, "x.csv")
    df.loc[2, "median"] = np.nan
    with pytest.raises(ValueError, match="non-finite median in row 2"):
        check_features(df, PAPER_FEATURES, "x.csv")


def test_absent_grade_has_no_recall_instead_of_zero():
    r = evaluate([0, 0, 1, 1], [0, 1, 1, 1])
    assert r["recall"][3] is None and r["recall"][0] == 0.5 and r["accuracy"] == 0.75


def test_skops_round_trip_with_trusted_types(tmp_path):
    train = _frame(80, 0)
    model, r = fit_eval(train, train, list(PAPER_FEATURES), "alopecia", GbmParams(n_estimators=10))
    save_alopecia_dir(tmp_path, model, PAPER_FEATURES, r, {})
    loaded, cfg = load_alopecia_dir(tmp_path)
    x = check_features(train, cfg["feature_names"], "t")
    assert (loaded.predict(x) == model.predict(x)).all()


def test_registered_model_carries_its_feature_settings(tmp_path):
    import mlflow
    from mlflow.models import Model

    from mlflow.tracking import MlflowClient

    from _params import count
    from scalpvision.features.table import feature_settings
    from scalpvision.ops.kinds import KIND_TAG
    from scalpvision.ops.registry import register

    train = _frame(60, 0)
    model, r = fit_eval(train, train, list(PAPER_FEATURES), "alopecia", GbmParams(n_estimators=5))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment("settings")
        settings = feature_settings(type("F", (), {"count": count("hough", 45)}))
        example = check_features(train, list(PAPER_FEATURES), "t").head(2)
        with mlflow.start_run():
            v = register("alopecia", (model, example, settings), "alopecia-settings",
                         {"test_accuracy": r["accuracy"]}, {"note": "x"})
        tags = MlflowClient().get_model_version("alopecia-settings", v).tags
        assert tags[KIND_TAG] == "alopecia" and tags["note"] == "x"
        assert float(tags["metric.test_accuracy"]) == pytest.approx(r["accuracy"], abs=1e-5)
        local = mlflow.artifacts.download_artifacts(f"models:/alopecia-settings/{v}",
                                                    dst_path=str(tmp_path / "dl"))
        meta = Model.load(str(Path(local) / "MLmodel")).metadata
        assert json.loads(json.dumps(settings)) == meta["feature_settings"]
    finally:
        mlflow.set_tracking_uri(None)


def test_grouped_cv_keeps_each_subject_in_one_fold_and_scores_every_row():
    from scalpvision.alopecia.model import grouped_cv

    df = _frame(120, 3)
    df["group"] = [f"s{i // 4}" for i in range(len(df))]  # 30 subjects of 4 images
    cv = grouped_cv(df, list(PAPER_FEATURES), "alopecia", GbmParams(n_estimators=20), folds=5)
    assert cv["pooled"]["n"] == len(df)  # every image predicted once, out of its fold
    folds = cv["fold_groups"]  # the subjects of each fold: none in two, none left out
    assert len(folds) == 5 and sum(map(len, folds)) == df.group.nunique()
    assert set().union(*folds) == set(df.group)
    assert cv["accuracy_mean"] > 0.8 and cv["accuracy_sd"] >= 0  # a separable grade
    assert 0 < cv["weighted_f1_mean"] <= 1
    with pytest.raises(ValueError, match=r"5 folds need 2 <= folds <= subjects \(3\)"):
        grouped_cv(df.assign(group=np.arange(len(df)) % 3), list(PAPER_FEATURES), "alopecia", GbmParams(),
                   folds=5)
    with pytest.raises(ValueError, match="needs a 'group' column"):
        grouped_cv(df.drop(columns="group"), list(PAPER_FEATURES), "alopecia", GbmParams())
