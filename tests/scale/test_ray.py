"""The batch engine on a real local Ray (2 CPUs and one logical GPU): the same shards give
byte-identical outputs on either engine and on a pool of local processes, a ``num_gpus=1``
actor lands on the GPU, an interrupted run resumes from its finished shards, and a pool that
would hang is refused."""

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from _params import PARAMS
from scalpvision.errors import UserError
from scalpvision.ops.engine import (
    LOCAL, EngineProbe, check_execution, collect, fingerprint, ray_init, run_shards,
)

pytestmark = pytest.mark.scale
RAY = replace(LOCAL, engine="ray", actors=1, cpus_per_actor=1.0, shard_size=8)


@pytest.fixture(scope="module")
def ray_local():
    ray = ray_init(RAY, num_cpus=2, num_gpus=1)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def frames64(tmp_path_factory):
    """64 frames of the independent renderer (graphics, round fields) with their true masks:
    ``(image paths, masks folder)``."""
    import numpy as np

    from scalpvision.data.trichoscope import render_trichoscope
    from scalpvision.io import write_image, write_mask

    root = tmp_path_factory.mktemp("frames64")
    (root / "img").mkdir()
    (root / "masks").mkdir()
    paths = []
    for i in range(64):
        t = render_trichoscope(np.random.default_rng([64, i]))
        paths.append(str(root / "img" / f"f{i:02d}.jpg"))
        write_image(paths[-1], t.image)
        write_mask(root / "masks" / f"f{i:02d}.png", t.mask)
    return paths, root / "masks"


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _both(task, items, tmp_path, name, shard_size=4, **over):
    """Run ``task`` on the local engine and on Ray; returns both (records, output folder)."""
    out = {}
    for ex in (replace(LOCAL, shard_size=shard_size),
               replace(RAY, shard_size=shard_size, **over)):
        work, dest = tmp_path / f"{name}-{ex.engine}.shards", tmp_path / f"{name}-{ex.engine}"
        recs = run_shards(task, items, ex, work, "k")
        collect(work, "k", dest)
        out[ex.engine] = (recs, dest)
    return out


def _briefly_trained(images, tree):
    """A lite U²-Net after 15 steps on ground-truth crops: poor, but its masks differ from
    image to image (random weights give empty masks, which would prove nothing)."""
    import numpy as np
    import torch

    from scalpvision.io import read_image, read_mask
    from scalpvision.segmentation.inference import to_tensor
    from scalpvision.segmentation.u2net import build_u2net, multi_bce_loss

    torch.manual_seed(0)
    net = build_u2net("lite")
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    data = [(read_image(p), read_mask(tree / "ground_truth" / "masks" / f"{Path(p).stem}.png"))
            for p in images[:8]]
    rng = np.random.default_rng(0)
    for _ in range(15):
        xs, ys = [], []
        for k in rng.integers(0, len(data), 4):
            im, m = data[k]
            y, x = rng.integers(0, 480 - 96), rng.integers(0, 640 - 96)
            xs.append(to_tensor(im[y:y + 96, x:x + 96]))
            ys.append(torch.from_numpy(m[y:y + 96, x:x + 96].astype(np.float32))[None, None])
        loss, _ = multi_bce_loss(net(torch.cat(xs)), torch.cat(ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def test_segmentation_and_features_identical_on_both_engines(ray_local, small_tree, frames64,
                                                             tmp_path):
    """Masks of 12 of the frames (+ one missing file) from a briefly trained U²-Net, and the
    feature rows of those masks, byte-identical local vs Ray, shard by shard (the 64-frame
    feature check is the next test)."""
    from scalpvision.features.batch import FeatureShards
    from scalpvision.ops.checkpoints import save_model_dir
    from scalpvision.segmentation.batch import SegmentShards, merge_results

    train = sorted({p.stem: str(p) for p in small_tree.rglob("*.jpg")
                    if "ground_truth" not in p.parts}.values())[:8]
    model = save_model_dir(tmp_path / "u2net", _briefly_trained(train, small_tree), {
        "builder": "u2net", "kwargs": {"variant": "lite"},
        "preprocessing": {"infer_long_side": 160}})
    images = [*frames64[0][:12], str(tmp_path / "missing.jpg")]  # the missing one: reported
    seg = _both(SegmentShards(str(model), PARAMS.segment, 2), images, tmp_path, "seg",
                shard_size=4)
    (rl, dl), (rr, dr) = seg["local"], seg["ray"]
    assert len(rl) == len(rr) == -(-len(images) // 4) and len(_digests(dl)) == len(images) - 1
    assert len(set(_digests(dl).values())) > 6  # masks that differ
    assert _digests(dl) == _digests(dr)  # byte-identical on both engines
    assert [f[:2] for f in merge_results(rr).failed] == [(Path(images[-1]), "unreadable")]
    # features of those masks: one row per image, identical
    rows = [{"image_id": Path(p).stem, "path": p, "split": "test", "group": "g"}
            for p in images[:-1]]
    p = replace(PARAMS.features, masks_dir=str(dl), baseline_otsu=True)
    feats = _both(FeatureShards(p), rows, tmp_path, "features", shard_size=8)
    (fl, _), (fr, _) = feats["local"], feats["ray"]
    assert json.dumps(fl) == json.dumps(fr)
    assert sum(len(r["rows"]) for r in fl) == len(rows) and "hair_count" in fl[0]["rows"][0]


def test_features_of_64_frames_identical_on_two_actors(ray_local, frames64, tmp_path):
    """The true masks of the 64 frames: the feature rows are the same, value for value, in the
    same order, local and on a pool of two Ray actors."""
    from scalpvision.features.batch import FeatureShards

    rows = [{"image_id": Path(p).stem, "path": p, "split": "test", "group": "g"}
            for p in frames64[0]]
    p = replace(PARAMS.features, masks_dir=str(frames64[1]), baseline_otsu=True)
    both = _both(FeatureShards(p), rows, tmp_path, "true", shard_size=16, actors=2,
                 cpus_per_actor=0.5)
    out = {engine: [r for rec in recs for r in rec["rows"]] for engine, (recs, _) in both.items()}
    pool = run_shards(FeatureShards(p), rows, replace(LOCAL, shard_size=16, actors=2),
                      tmp_path / "pool.shards", "k")  # two local worker processes
    assert [r["image_id"] for r in out["local"]] == [r["image_id"] for r in rows]
    assert json.dumps(out["local"]) == json.dumps(out["ray"])
    assert json.dumps(out["local"]) == json.dumps([r for rec in pool for r in rec["rows"]])
    assert len({r["hair_count"] for r in out["local"]}) > 3  # rows that differ


@dataclass
class _FailsOnce:
    """Fails on the shard that starts at item 4 while ``flag`` exists (deleting it)."""
    flag: Path

    def setup(self):
        pass

    def run(self, items, out_dir, start):
        if self.flag.exists() and start == 4:
            self.flag.unlink()
            raise RuntimeError("interrupted")
        (out_dir / f"{start}.txt").write_text(",".join(map(str, items)))
        return {"items": items}


def test_local_pool_runs_the_shards_in_other_processes_and_keeps_their_order(tmp_path):
    import os

    recs = run_shards(EngineProbe(), list(range(7)), replace(LOCAL, actors=2, shard_size=2),
                      tmp_path / "w", "k")
    assert [r["items"] for r in recs] == [[0, 1], [2, 3], [4, 5], [6]]
    assert os.getpid() not in {r["pid"] for r in recs} and len({r["pid"] for r in recs}) <= 2


def test_gpu_actor_lands_on_the_logical_gpu(ray_local, tmp_path):
    recs = run_shards(EngineProbe(), list(range(6)),
                      replace(RAY, gpus_per_actor=1, shard_size=4), tmp_path / "w", "k")
    assert [r["items"] for r in recs] == [[0, 1, 2, 3], [4, 5]]
    assert all(r["gpus"] == ["0"] and r["cuda_visible_devices"] == "0" for r in recs)
    assert len({r["pid"] for r in recs}) == 1  # one actor, its model loaded once


@pytest.mark.parametrize("actors", [1, 2])
def test_an_interrupted_run_resumes_from_its_finished_shards(tmp_path, actors):
    """In this process (1) and on a pool of local worker processes (2)."""
    flag = tmp_path / "fail-once"
    flag.touch()
    ex = replace(LOCAL, shard_size=4, actors=actors)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_shards(_FailsOnce(flag), list(range(10)), ex, tmp_path / "w", "k")
    done = tmp_path / "w" / "k" / "00000.json"
    stamp = done.stat().st_mtime_ns
    recs = run_shards(_FailsOnce(flag), list(range(10)), ex, tmp_path / "w", "k")
    assert done.stat().st_mtime_ns == stamp  # shard 0 was not run again
    assert [r["items"] for r in recs] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    # other inputs: a new fingerprint, and the stale shards are dropped
    run_shards(_FailsOnce(flag), [1], ex, tmp_path / "w", fingerprint("other", [1]))
    assert not (tmp_path / "w" / "k").exists()
    assert collect(tmp_path / "w", fingerprint("other", [1]), tmp_path / "out") == 1


def test_settings_that_cannot_work_are_refused():
    with pytest.raises(UserError, match="ray#44687"):
        check_execution(replace(RAY, actors=2, cpus_per_actor=1.0), cluster_cpus=2)
    check_execution(replace(RAY, actors=2, cpus_per_actor=0.5), cluster_cpus=2)
    with pytest.raises(UserError, match="engine 'spark'"):
        check_execution(replace(LOCAL, engine="spark"))


def test_fingerprint_follows_file_bytes(tmp_path):
    f = tmp_path / "m.bin"
    f.write_bytes(b"a")
    a = fingerprint("x", files=[tmp_path])
    f.write_bytes(b"b")
    assert fingerprint("x", files=[tmp_path]) != a != fingerprint("y", files=[tmp_path])
