"""Scalp-condition classifier: heads on pooled features, losses on logits, the letterbox, one
normalisation, the 12-cell macro-F1 against sklearn's, the gate, intervals by subject,
calibration, the manifest join and its leakage check, per-iteration restarts, resume, the
classical baseline's features, and the model directory round trip."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

from scalpvision.classification.baseline import ConditionGbm, scalp_features
from scalpvision.classification.data import Normalisation, join_augmented, letterbox
from scalpvision.classification.metrics import (
    bootstrap_interval, cell_f1, evaluate, expected_calibration_error, grades_from_proba,
    macro_f1, majority_proba,
)
from scalpvision.classification.model import (
    CONDITIONS, build_classifier, four_head_loss, inverse_frequency_weights, predict_proba,
)
from scalpvision.classification.params import ClassifierModelParams, ClassifierTrainParams
from scalpvision.classification.predictor import load_classifier_dir, save_classifier_dir
from scalpvision.classification.train import train_classifier
from scalpvision.errors import BadInputError, MissingInputError

TINY = ClassifierModelParams(backbone="test_resnet", checkpoint="", image_size=32)


def _train_params(**kw):
    base = dict(epochs=2, batch_size=4, lr=1e-3, weight_decay=0.01, eta_min=1e-5,
                restart_epochs=2.0, t_mult=2, imbalance="none", focal_gamma=2.0,
                variant="baseline", noise_std=0.05, augmented_manifest="", seed=0)
    return ClassifierTrainParams(**{**base, **kw})


def test_heads_sit_on_pooled_features():
    torch.manual_seed(0)
    model, init = build_classifier(TINY)
    assert init == "random" and model.backbone.num_classes == 0  # no ImageNet head
    out = model(torch.randn(2, 3, 32, 32))
    assert out["presence"].shape == (2, 3)
    assert all(out[c].shape == (2, 4) for c in CONDITIONS)


def test_unknown_backbone_and_missing_checkpoint_are_named():
    with pytest.raises(ValueError, match="no_such_net"):
        build_classifier(ClassifierModelParams("no_such_net", "", 32))
    with pytest.raises(MissingInputError, match="nowhere.pth"):
        build_classifier(ClassifierModelParams("test_resnet", "/nowhere.pth", 32))


def test_local_checkpoint_loads_the_backbone_and_fresh_heads(tmp_path):
    import timm

    torch.manual_seed(1)
    src = timm.create_model("test_resnet", pretrained=False)  # with its ImageNet head
    torch.save(src.state_dict(), tmp_path / "imagenet.pth")
    model, init = build_classifier(ClassifierModelParams("test_resnet", str(tmp_path / "imagenet.pth"), 32))
    assert "local checkpoint" in init
    own = model.backbone.state_dict()
    for k, v in src.state_dict().items():
        if not k.startswith("fc."):
            assert torch.equal(own[k], v), k


def test_loss_takes_raw_logits_once():
    torch.manual_seed(0)
    out = {"presence": torch.randn(5, 3), **{c: torch.randn(5, 4) for c in CONDITIONS}}
    grades = torch.tensor([[0, 1, 2], [3, 0, 0], [1, 1, 1], [2, 3, 0], [0, 0, 3]])
    want = F.binary_cross_entropy_with_logits(out["presence"], (grades > 0).float())
    for k, c in enumerate(CONDITIONS):
        want = want + F.cross_entropy(out[c], grades[:, k])
    assert torch.allclose(four_head_loss(out, grades), want)
    # the reference's double activation gives another (flatter) loss: this is not it
    ref = F.binary_cross_entropy_with_logits(torch.sigmoid(out["presence"]), (grades > 0).float())
    assert not torch.allclose(four_head_loss(out, grades), ref + sum(
        F.cross_entropy(torch.softmax(out[c], 1), grades[:, k]) for k, c in enumerate(CONDITIONS)))
    # focal with gamma 0 is cross-entropy; gamma > 0 down-weights the easy examples
    assert torch.allclose(four_head_loss(out, grades, focal_gamma=1e-12), want, atol=1e-5)
    assert four_head_loss(out, grades, focal_gamma=2.0) < want


def test_inverse_frequency_weights():
    g = np.array([[0, 0, 0]] * 6 + [[1, 3, 0]] * 2)
    w = inverse_frequency_weights(g)
    assert w["dandruff"][0] < w["dandruff"][1] and w["dandruff"][2] == 0
    assert torch.isclose(w["dandruff"][[0, 1]].mean(), torch.tensor(1.0))
    assert w["erythema"][0] == 1.0


def test_letterbox_pads_and_keeps_the_aspect():
    import cv2

    im = np.full((480, 640, 3), 200, np.uint8)
    cv2.circle(im, (320, 240), 100, (10, 10, 10), -1)
    sq, pad = letterbox(im, 64)
    assert sq.shape == (64, 64, 3) and pad.shape == (64, 64)
    assert pad[:8].all() and pad[-8:].all() and not pad[8:56].any()  # 48 frame rows, centred
    ys, xs = np.nonzero(sq[..., 0] < 100)
    assert abs(np.ptp(ys) - np.ptp(xs)) <= 1  # the circle stays round


def test_one_normalisation_excludes_padding_and_zeroes_it():
    rng = np.random.default_rng(0)
    ims = [letterbox(rng.integers(50, 200, (48, 64, 3), dtype=np.uint8), 32) for _ in range(3)]
    sq, pads = np.stack([s for s, _ in ims]), np.stack([p for _, p in ims])
    norm = Normalisation.measure(sq, pads)
    frame = sq[~pads].astype(float) / 255
    assert np.allclose(norm.mean, frame.mean(0)) and np.allclose(norm.std, frame.std(0))
    x = norm.apply(sq, pads)
    assert x.shape == (3, 3, 32, 32)
    assert torch.all(x.permute(0, 2, 3, 1)[torch.from_numpy(pads)] == 0)
    assert abs(float(x.permute(0, 2, 3, 1)[torch.from_numpy(~pads)].mean())) < 1e-4


def _onehot12(g):
    return np.concatenate([np.eye(4, dtype=int)[g[:, k]] for k in range(3)], axis=1)


def test_macro_f1_is_sklearns_on_the_12_column_indicator():
    rng = np.random.default_rng(3)
    for _ in range(5):
        t, p = rng.integers(0, 4, (60, 3)), rng.integers(0, 4, (60, 3))
        t[:, 2] = np.minimum(t[:, 2], 2)  # a grade with no true members
        want = f1_score(_onehot12(t), _onehot12(p), average="macro", zero_division=0)
        assert np.isclose(macro_f1(t, p), want)
    f1, support = cell_f1(t, p)
    assert support[2, 3] == 0 and support.sum() == 180


def test_presence_gate_grades_absent_conditions_zero():
    proba = {"presence": np.array([[0.9, 0.2, 0.6]]),
             **{c: np.array([[0.1, 0.2, 0.6, 0.1]]) for c in CONDITIONS}}
    assert grades_from_proba(proba).tolist() == [[2, 2, 2]]
    assert grades_from_proba(proba, gate=0.5).tolist() == [[2, 0, 2]]


def test_bootstrap_resamples_subjects():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, (40, 3))
    assert bootstrap_interval(macro_f1, t, t, np.repeat(np.arange(8), 5), n=200) == (1.0, 1.0)
    p = np.where(rng.uniform(size=t.shape) < 0.4, rng.integers(0, 4, t.shape), t)
    lo, hi = bootstrap_interval(macro_f1, t, p, np.repeat(np.arange(8), 5), n=300)
    assert lo < macro_f1(t, p) < hi
    one = bootstrap_interval(macro_f1, t, p, np.zeros(40), n=50)  # one subject: nothing varies
    assert one[0] == one[1] == pytest.approx(macro_f1(t, p))


def test_expected_calibration_error():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.25, 1, 200_000)
    assert expected_calibration_error(conf, rng.uniform(size=conf.size) < conf) < 0.01
    assert np.isclose(expected_calibration_error(np.full(100, 0.95), np.arange(100) < 60), 0.35)


def test_evaluate_reports_every_metric_and_majority_scores_low():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 4, (80, 3))
    groups = np.repeat(np.arange(16), 5)
    perfect = {"presence": (t > 0).astype(float) * 0.98 + 0.01,
               **{c: np.eye(4)[t[:, k]] * 0.97 + 0.0075 for k, c in enumerate(CONDITIONS)}}
    r = evaluate(t, perfect, groups, n_boot=50)
    assert r["macro_f1"] == 1.0 and r["macro_f1_ci"] == (1.0, 1.0)
    assert all(r[c]["qwk"] == 1.0 and r[c]["within_one"] == 1.0 and r[c]["presence_auc"] == 1.0
               for c in CONDITIONS)
    assert sum(v["support"] for v in r["cells"].values()) == 240
    m = evaluate(t, majority_proba(t, len(t)), groups, n_boot=0)
    assert m["macro_f1"] < 0.2 and m["macro_f1_ci"] is None


def _manifest():
    return pd.DataFrame({"image_id": ["a", "b", "c"], "split": ["train", "train", "test"],
                         "group": ["g1", "g2", "g3"]})


def _aug(tmp_path, rows):
    for r in rows:
        (tmp_path / r["path"]).write_bytes(b"x")
    df = pd.DataFrame(rows)
    df.to_csv(tmp_path / "aug.csv", index=False)
    return df, str(tmp_path / "aug.csv")


def test_augmented_set_is_joined_by_source_not_by_listing(tmp_path):
    rows = [dict(source="b", target="a", dandruff=3, sebum=0, erythema=1, path="z_b.jpg"),
            dict(source="a", target="b", dandruff=0, sebum=2, erythema=0, path="a_a.jpg")]
    df, where = _aug(tmp_path, rows)
    out = join_augmented(_manifest(), df, where)
    assert out.source.tolist() == ["b", "a"] and out.group.tolist() == ["g2", "g1"]
    assert out.dandruff.tolist() == [3, 0] and out.path.iloc[0].endswith("z_b.jpg")
    shuffled = join_augmented(_manifest(), df.iloc[::-1].reset_index(drop=True), where)
    assert shuffled.set_index("source").dandruff.to_dict() == {"a": 0, "b": 3}


def test_augmented_image_from_a_test_source_fails_the_run(tmp_path):
    rows = [dict(source="c", target="a", dandruff=3, sebum=0, erythema=1, path="c.jpg")]
    df, where = _aug(tmp_path, rows)
    with pytest.raises(BadInputError, match=r"aug.csv.*val/test sources.*c \(test\)"):
        join_augmented(_manifest(), df, where)
    with pytest.raises(BadInputError, match="lacks columns"):
        join_augmented(_manifest(), df.drop(columns="target"), where)
    ok = df.assign(source="a", path="gone.jpg")
    with pytest.raises(MissingInputError, match="gone.jpg"):
        join_augmented(_manifest(), ok, where)


def test_bad_train_settings_are_refused():
    with pytest.raises(ValueError, match="imbalance"):
        _train_params(imbalance="smote")
    with pytest.raises(ValueError, match="augmented_manifest"):
        _train_params(variant="manifest")


def _tiny_data(n, seed):
    rng = np.random.default_rng(seed)
    grades = rng.integers(0, 4, (n, 3))
    ims = rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)
    ims[..., 0] = np.clip(ims[..., 0] // 4 + 60 * grades[:, 2, None, None], 0, 255)
    return ims, np.zeros((n, 32, 32), bool), grades


def test_restarts_step_per_iteration_and_resume_reaches_the_same_weights(tmp_path):
    torch.set_num_threads(1)
    ims, pads, g = _tiny_data(16, 0)
    val = (*_tiny_data(8, 1), np.arange(8))
    norm = Normalisation.measure(ims, pads)
    tp = _train_params(epochs=2, restart_epochs=4.0)
    full, rec = train_classifier(ims, pads, g, val, TINY, tp, norm=norm, gate=0.5, progress=False)
    # 4 iterations an epoch, period 16 iterations: after 4 the rate is cos-decayed, not 1e-3
    lr1 = rec["history"][0]["lr"]
    want = 1e-5 + (1e-3 - 1e-5) * (1 + np.cos(np.pi * 4 / 16)) / 2
    assert np.isclose(lr1, want)
    assert rec["class_counts"]["dandruff_0"] == int(np.sum(g[:, 0] == 0))
    # interrupted after epoch 1, resumed: the same weights as the uninterrupted run
    ck = tmp_path / "resume.pt"
    train_classifier(ims, pads, g, val, TINY, _train_params(epochs=1, restart_epochs=4.0),
                     norm=norm, gate=0.5, resume_file=ck, progress=False)
    resumed, rec2 = train_classifier(ims, pads, g, val, TINY, tp, norm=norm, gate=0.5,
                                     resume_file=ck, progress=False)
    assert [h["loss"] for h in rec2["history"]] == [h["loss"] for h in rec["history"]]
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("variant", ["gaussian", "augmix"])
def test_variants_train(variant):
    ims, pads, g = _tiny_data(8, 0)
    val = (*_tiny_data(4, 1), np.arange(4))
    _, rec = train_classifier(ims, pads, g, val, TINY, _train_params(epochs=1, variant=variant),
                              norm=Normalisation.measure(ims, pads), gate=0.5, progress=False)
    assert rec["train"]["variant"] == variant and np.isfinite(rec["history"][0]["loss"])


def test_model_directory_round_trip(tmp_path):
    torch.manual_seed(0)
    model, _ = build_classifier(TINY)
    norm = Normalisation((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))
    save_classifier_dir(tmp_path / "m", model, TINY, norm, 0.5, {"best_epoch": 1})
    pred = load_classifier_dir(tmp_path / "m")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    got = pred.predict(images)
    want = predict_proba(model, pred.tensor(images))
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    torch.nn.init.zeros_(model.presence.weight)  # a load that dropped the weights would show
    assert not np.allclose(predict_proba(model, pred.tensor(images))["presence"], got["presence"])
    with pytest.raises(MissingInputError, match="not a classifier directory"):
        load_classifier_dir(tmp_path)


def test_scalp_features_move_with_the_condition_and_ignore_hair():
    rng = np.random.default_rng(0)
    base = np.clip(rng.normal([200, 160, 140], 6, (96, 128, 3)), 0, 255).astype(np.uint8)
    red = base.copy()
    red[..., 1:] = (red[..., 1:] * 0.85).astype(np.uint8)
    yellow = base.copy()
    yellow[..., 2] = (yellow[..., 2] * 0.8).astype(np.uint8)
    f0, fr, fy = scalp_features(base), scalp_features(red), scalp_features(yellow)
    assert fr["a_mean"] > f0["a_mean"] + 3 and fy["b_mean"] > f0["b_mean"] + 3
    flakes = base.copy()
    flakes[rng.uniform(size=(96, 128)) < 0.03] = 250
    assert scalp_features(flakes)["flake_share"] > f0["flake_share"] + 0.01
    hairy, hair = base.copy(), np.zeros((96, 128), bool)
    hair[:, 40:46] = True
    hairy[hair] = 20
    assert abs(scalp_features(hairy, hair)["L_mean"] - f0["L_mean"]) < 1.0
    assert scalp_features(hairy)["L_mean"] < f0["L_mean"] - 3  # unmasked, hair poses as scalp


def test_condition_gbm_learns_a_separable_condition():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 4, (200, 3))
    x = np.c_[g + rng.normal(0, 0.2, g.shape), rng.normal(size=(200, 2))]
    m = ConditionGbm(n_estimators=30).fit(x[:150], g[:150])
    p = m.predict_proba(x[150:])
    assert macro_f1(g[150:], grades_from_proba(p)) > 0.9
    assert p["presence"].shape == (50, 3) and np.allclose(p["dandruff"].sum(1), 1)


def test_classify_cli_writes_a_row_per_image_and_names_unreadable_ones(tmp_path):
    import csv
    import json
    import subprocess
    import sys

    from scalpvision.io import write_image

    torch.manual_seed(0)
    model, _ = build_classifier(TINY)
    save_classifier_dir(tmp_path / "m", model, TINY, Normalisation((0.5,) * 3, (0.2,) * 3), 0.5, {})
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(tmp_path / "imgs" / f"s{i}.png", rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"not a jpeg")
    r = subprocess.run([sys.executable, "-m", "scalpvision.cli", "classify", str(tmp_path / "imgs"),
                        "--model", str(tmp_path / "m"), "--out", str(tmp_path / "p.csv"),
                        "--batch", "2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert (summary["classified"], summary["unreadable"]) == (3, 1)
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert len(rows) == 4 and "broken.jpg" in r.stderr
    bad = [x for x in rows if x["status"] != "ok"]
    assert len(bad) == 1 and bad[0]["file"].endswith("broken.jpg") and bad[0]["detail"]
    ok = [x for x in rows if x["status"] == "ok"]
    for x in ok:
        assert np.isclose(sum(float(x[f"sebum_p{g}"]) for g in range(4)), 1, atol=1e-3)
        assert int(x["sebum_grade"]) in range(4)


def test_classifier_kind_registers_rescores_and_serves(tmp_path, monkeypatch):
    """The ``classifier`` kind through the generic lifecycle: registered with tags, re-scored
    from the registry on the manifest's val/test rows, served from the logged copy with the
    same probabilities as the directory it came from."""
    from types import SimpleNamespace

    import mlflow

    from scalpvision.io import read_image, write_image
    from scalpvision.ops.kinds import get_kind
    from scalpvision.ops.registry import register

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("classifier-kind-test")  # not an experiment id left by another test
    try:
        torch.manual_seed(0)
        model, _ = build_classifier(TINY)
        mdir = save_classifier_dir(tmp_path / "m", model, TINY,
                                   Normalisation((0.5,) * 3, (0.2,) * 3), 0.5, {})
        rng = np.random.default_rng(0)
        rows = []
        for i in range(8):
            p = tmp_path / "imgs" / f"i{i}.png"
            write_image(p, rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
            rows.append({"path": str(p), "split": "val" if i < 4 else "test", "group": f"g{i // 2}",
                         "dandruff": i % 4, "sebum": 0, "erythema": 1})
        pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
        params = SimpleNamespace(classifier=SimpleNamespace(
            manifest=str(tmp_path / "manifest.csv"), splits=("train", "val", "test"),
            min_confidence=0.99))
        with mlflow.start_run():
            version = register("classifier", mdir, "sv-cls", {"val_macro_f1": 0.1}, {})
        kind = get_kind("classifier")
        scores = kind.evaluate(params, f"models:/sv-cls/{version}")
        pred = load_classifier_dir(mdir)
        want = {}
        for key in ("val", "test"):
            part = pd.DataFrame(rows)[lambda d: d.split == key]
            ims = [read_image(p) for p in part.path]
            want[f"{key}_macro_f1"] = macro_f1(part[list(CONDITIONS)].to_numpy(),
                                               grades_from_proba(pred.predict(ims), 0.5))
        assert scores == pytest.approx(want)
        client = mlflow.MlflowClient()
        assert client.get_model_version("sv-cls", version).tags["scalpvision.kind"] == "classifier"
        logged = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/sv-cls/{version}",
                                                     dst_path=str(tmp_path / "dl"))
        table = mlflow.pyfunc.load_model(f"models:/sv-cls/{version}").predict(
            pd.DataFrame({"path": [rows[0]["path"]]}))
        direct0 = pred.predict([read_image(rows[0]["path"])])
        assert table.sebum_p2.iloc[0] == pytest.approx(direct0["sebum"][0, 2], abs=1e-6)
        served = kind.serve(Path(logged), params)
        rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        answer, _ = served.answer({"rgb": rgb})
        direct = pred.predict([rgb])
        for k, c in enumerate(CONDITIONS):
            a = answer["scalp_conditions"][c]
            assert a["presence_probability"] == pytest.approx(direct["presence"][0, k], abs=1e-4)
            assert a["uncertain"] and a["grade"] is None  # an untrained net is never 0.99 sure
    finally:
        mlflow.set_tracking_uri(None)


def test_real_frames_are_scored_per_scene(tmp_path):
    """Three exports of one scene count once; a scene is positive when any export has the box
    (d/ds -> dandruff, o -> sebum, s -> erythema)."""
    from scalpvision.classification.real_frames import presence_auc_by_scene, real_frames

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    boxes = {"a_jpg.rf.1": "1 0.5 0.5 0.1 0.1", "a_jpg.rf.2": "", "b_jpg.rf.1": "2 .5 .5 .1 .1",
             "c_jpg.rf.1": "3 .5 .5 .1 .1\n0 .2 .2 .1 .1", "d_jpg.rf.1": ""}
    for stem, txt in boxes.items():
        (tmp_path / "images" / f"{stem}.jpg").write_bytes(b"x")
        (tmp_path / "labels" / f"{stem}.txt").write_text(txt)
    paths, lab = real_frames(tmp_path)
    assert [p.stem for p in paths] == sorted(boxes)
    assert lab.tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]]
    # dandruff: scenes a (mean of 0.9 and 0.7) and c positive, b and d negative -> AUC 1
    pres = np.array([[0.9, 0, 0], [0.7, 0, 0], [0.2, 0.8, 0], [0.6, 0, 0.9], [0.1, 0.1, 0.1]])
    r = presence_auc_by_scene(paths, lab, pres)
    assert r["scenes"] == 4 and r["frames"] == 5
    assert r["dandruff"] == 1.0 and r["dandruff_positive_scenes"] == 2
    assert r["sebum"] == 1.0 and r["erythema_positive_scenes"] == 1


def test_table2_markdown_lists_every_cell_with_its_support():
    from scalpvision.classification.report import cell_rows, cells_markdown, summary_markdown

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, (40, 3))
    r = evaluate(y, majority_proba(y, 40), np.arange(40) // 2, n_boot=20)
    cells = cells_markdown({"majority": r}).splitlines()
    assert len(cells) == 3 and cells[2].count("(") == 12
    n = [int(v.split("(")[1].rstrip(") ")) for v in cells[2].split("|")[2:-1]]
    assert n == [int(np.sum(y[:, k] == g)) for k in range(3) for g in range(4)]
    assert f"{r['macro_f1']:.3f} [" in summary_markdown({"majority": r})
    assert sum(row["support"] for row in cell_rows(r)) == 3 * 40


def test_baseline_feature_table_excludes_the_black_hat_hair(tmp_path):
    from scalpvision.classification.baseline import FEATURES, feature_table
    from scalpvision.segmentation.baselines import blackhat_morphology
    from scalpvision.io import read_image

    import cv2

    img = np.full((480, 640, 3), (200, 150, 130), np.uint8)
    cv2.line(img, (0, 100), (639, 300), (30, 20, 20), 6)
    p = tmp_path / "scalp.png"
    cv2.imwrite(str(p), img[..., ::-1])
    x = feature_table([p, p])
    assert x.shape == (2, len(FEATURES))
    want = scalp_features(read_image(p), blackhat_morphology(read_image(p)))
    assert x[0].tolist() == [want[k] for k in FEATURES]
    assert want["L_std"] < 2.0   # the dark hair line is outside the measured scalp
