"""The scalp gate: its features, its disjoint train / val / test sources, the novelty limit, both
error rates, and a gate trained here that refuses non-scalp images and admits scalp frames of
other colour renderings."""

from pathlib import Path

import numpy as np
import pytest

from _gate import scalp, tiny_gate
from scalpvision.gate.features import FEATURES, gate_features
from scalpvision.gate.model import GateSet, Novelty, admitted, error_rates, real_scene_parts
from scalpvision.gate.samples import PHOTOS, PROCEDURAL, procedural


def test_features_are_finite_and_named():
    for im in (scalp(0), np.zeros((480, 640, 3), np.uint8), np.full((480, 640, 3), 255, np.uint8)):
        f = gate_features(im)
        assert f.shape == (len(FEATURES),) and np.isfinite(f).all()


def test_parts_never_share_a_source():
    names = {p: set(PHOTOS[p]) for p in PHOTOS}
    assert not (names["train"] & names["val"]) and not (names["train"] & names["test"])
    assert not (names["val"] & names["test"])
    a = [im for _, im in procedural("train", 2, 0)]
    b = [im for _, im in procedural("test", 2, 0)]
    assert len(a) == 2 * len(PROCEDURAL) and all(im.shape == (480, 640, 3) for im in a)
    assert all(im.dtype == np.uint8 for im in a)
    # same kinds, other seeds: no test image equals a train image
    assert not any(np.array_equal(x, y) for x in a for y in b)


def test_real_scenes_stay_together_and_are_dealt_in_halves_and_quarters():
    paths = [Path(f"s{i:03d}_jpg.rf.{e}.jpg") for i in range(80) for e in ("a", "b", "c")]
    parts = real_scene_parts(paths, seed=0)
    assert len(parts) == 80   # one part per scene, whatever its exports
    counts = {p: sum(v == p for v in parts.values()) for p in ("train", "val", "test")}
    assert counts == {"train": 40, "val": 20, "test": 20}


def test_novelty_distance_and_limit_chosen_on_validation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    nov = Novelty.fit(x)
    assert nov.distance(x.mean(0))[0] < 0.3
    val = rng.normal(size=(400, 5))
    lim = nov.with_limit(val, 0.9)
    assert np.mean(lim.distance(val) <= lim.limit) == pytest.approx(0.9, abs=0.01)
    assert lim.distance(np.full(5, 10.0))[0] > lim.limit


def test_error_rates_count_both_kinds_of_error():
    s = GateSet(np.zeros((6, 1)), ["synthetic scalp", "real scalp frame", "real scalp frame",
                                   "document", "noise", "noise"], ["x"] * 6)
    passed = np.array([True, False, True, False, True, False])
    r = error_rates(s, passed)
    assert r["false_refusal_rate"] == pytest.approx(1 / 3)
    assert r["false_acceptance_rate"] == pytest.approx(1 / 3)
    assert r["balanced_error"] == pytest.approx(1 / 3)
    assert r["by_kind"]["real scalp frame"] == {"images": 2, "scalp": True, "error_rate": 0.5}
    assert r["by_kind"]["document"]["error_rate"] == 0.0


@pytest.fixture(scope="module")
def gate_dir(tmp_path_factory):
    return tiny_gate(tmp_path_factory.mktemp("gate") / "g", n_scalps=24, per_kind=6,
                     estimators=60, novelty_margin=1.5)


def test_trained_gate_refuses_what_is_not_a_scalp_and_admits_scalps(gate_dir):
    from scalpvision.gate.kind import Gate, ServedGate
    from scalpvision.serve.upload import InputError

    gate = Gate(gate_dir)
    unseen = [im for _, im in procedural("test", 3, 0)]
    refused = [not gate.check(im)["passed"] for im in unseen]
    assert np.mean(refused) >= 0.9
    scalps = [scalp(500 + i) for i in range(6)]
    grey = [np.repeat(s.mean(2, keepdims=True).astype(np.uint8), 3, 2) for s in scalps[:3]]
    assert all(gate.check(im)["passed"] for im in scalps + grey)
    with pytest.raises(InputError) as e:
        ServedGate(gate_dir, 0.5).check(np.full((480, 640, 3), (200, 120, 90), np.uint8),
                                        "wall.png")
    assert e.value.status == 422 and str(e.value).startswith(
        "wall.png: not a microscopic scalp image")
    x = np.stack([gate_features(im) for im in unseen + scalps])
    decided = admitted(gate.model, gate.novelty, x, gate.threshold)
    assert list(decided) == [gate.check(im)["passed"] for im in unseen + scalps]


def test_a_gate_file_with_an_untrusted_type_is_refused(gate_dir, tmp_path):
    import skops.io as sio

    from scalpvision.errors import BadInputError
    from scalpvision.gate.model import load_gate_dir

    bad = tmp_path / "bad"
    bad.mkdir()
    for f in ("config.json", "novelty.npz"):
        (bad / f).write_bytes((gate_dir / f).read_bytes())
    from sklearn.preprocessing import FunctionTransformer

    sio.dump(FunctionTransformer(func=print), bad / "gate.skops")  # a callable to build: refused
    with pytest.raises(BadInputError, match="not on the trusted list"):
        load_gate_dir(bad)
