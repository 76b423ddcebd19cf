"""Champion promotion against a real (temporary, sqlite) MLflow registry: the first version
takes the alias, a better candidate on the same test set takes it, a worse one or one inside
the margin does not, a champion scored on another test set is re-scored (or not compared),
and every decision reaches the audit file and the registry tags."""

import json

import pandas as pd
import pytest

from scalpvision.ops.promotion import MANIFEST_TAG, apply, decide, manifest_hash, read_audit


@pytest.fixture()
def client(tmp_path, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    c = MlflowClient()
    c.create_registered_model("m")
    yield c
    mlflow.set_tracking_uri(None)


def _version(client, tmp_path, dice, manifest="abc"):
    src = tmp_path / f"src{dice}"
    src.mkdir(exist_ok=True)
    v = client.create_model_version("m", str(src)).version
    client.set_model_version_tag("m", v, "metric.test_dice", f"{dice:.5f}")
    client.set_model_version_tag("m", v, MANIFEST_TAG, manifest)
    return str(v)


def _champion(client):
    return str(client.get_model_version_by_alias("m", "champion").version)


def test_promotion_sequence_and_audit(client, tmp_path):
    audit = tmp_path / "registry" / "promotions.jsonl"
    v1 = _version(client, tmp_path, 0.70)
    d = decide(client, "m", v1, "test_dice")
    assert d.promoted and d.from_version is None and "first" in d.reason
    apply(client, d, audit)
    assert _champion(client) == v1

    v2 = _version(client, tmp_path, 0.65)  # worse: kept
    d = decide(client, "m", v2, "test_dice")
    apply(client, d, audit)
    assert not d.promoted and _champion(client) == v1 and d.champion_value == pytest.approx(0.70)

    v3 = _version(client, tmp_path, 0.705)  # better, but inside a 0.01 margin: kept
    d = decide(client, "m", v3, "test_dice", margin=0.01)
    apply(client, d, audit)
    assert not d.promoted and "margin" in d.reason

    v4 = _version(client, tmp_path, 0.80)  # better by more than the margin: promoted
    d = decide(client, "m", v4, "test_dice", margin=0.01)
    apply(client, d, audit)
    assert d.promoted and _champion(client) == v4 and d.from_version == v1

    rows = read_audit(audit)
    assert [r["promoted"] for r in rows] == [True, False, False, True]
    assert [r["to_version"] for r in rows] == [v1, v1, v1, v4]
    assert rows[-1]["candidate_value"] == pytest.approx(0.80)
    assert rows[-1]["champion_value"] == pytest.approx(0.70)
    tags = client.get_model_version("m", v4).tags
    assert tags["promotion.decision"] == "promoted" and tags["promotion.from_version"] == v1
    assert client.get_model_version("m", v2).tags["promotion.decision"] == "kept"
    assert f"v{v1} -> v{v4}" in client.get_registered_model("m").tags["promotion.last"]
    json.dumps(rows)  # the audit file is plain JSON


def test_lower_is_better(client, tmp_path):
    v1 = _version(client, tmp_path, 0.30)
    apply(client, decide(client, "m", v1, "test_dice", higher_is_better=False), tmp_path / "a")
    v2 = _version(client, tmp_path, 0.20)
    d = decide(client, "m", v2, "test_dice", higher_is_better=False)
    assert d.promoted


def test_other_test_set_is_rescored_or_not_compared(client, tmp_path):
    audit = tmp_path / "audit.jsonl"
    v1 = _version(client, tmp_path, 0.90, manifest="old")
    apply(client, decide(client, "m", v1, "test_dice"), audit)
    v2 = _version(client, tmp_path, 0.75, manifest="new")
    # without an evaluator the 0.90 on another test set is not comparable: no move
    d = decide(client, "m", v2, "test_dice")
    assert not d.promoted and "not comparable" in d.reason
    # re-scored on the new test set the champion only reaches 0.70: the candidate wins
    calls = []

    def evaluator(name, version):
        calls.append((name, version))
        return {"test_dice": 0.70}

    d = decide(client, "m", v2, "test_dice", evaluator=evaluator)
    assert calls == [("m", v1)] and d.promoted and d.champion_value == pytest.approx(0.70)


def test_missing_metric_is_a_clear_error(client, tmp_path):
    v = client.create_model_version("m", str(tmp_path)).version
    with pytest.raises(ValueError, match="no tag metric.test_dice"):
        decide(client, "m", str(v), "test_dice")


def test_manifest_hash_ignores_row_order_but_not_content():
    a = pd.DataFrame({"image_id": ["x", "y"], "alopecia": [0, 2], "other": [1, 2]})
    h = manifest_hash(a, ["image_id", "alopecia"])
    assert h == manifest_hash(a.iloc[::-1], ["image_id", "alopecia"])
    assert h != manifest_hash(a.assign(alopecia=[0, 3]), ["image_id", "alopecia"])
    with pytest.raises(ValueError, match="lack column"):
        manifest_hash(a, ["sha256"])
