"""`scalpvision segment` over a folder: one PNG per readable image, unreadable ones reported
without stopping the batch."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from scalpvision.io import read_mask
from scalpvision.ops.checkpoints import load_model_dir, save_model_dir
from scalpvision.segmentation.u2net import build_u2net


def _model_dir(tmp_path):
    cfg = {"builder": "u2net", "kwargs": {"variant": "lite"},
           "preprocessing": {"infer_long_side": 160}}
    return save_model_dir(tmp_path / "model", build_u2net("lite"), cfg)


def test_model_dir_round_trip(tmp_path):
    """The loaded model computes what the saved one computed (weights, not only the config),
    and differs from a fresh model of the same builder."""
    import torch

    torch.manual_seed(3)
    saved = build_u2net("lite").eval()
    d = save_model_dir(tmp_path / "model", saved, {"builder": "u2net",
                                                   "kwargs": {"variant": "lite"}})
    model, cfg = load_model_dir(d)
    x = torch.randn(1, 3, 64, 64)
    assert cfg["kwargs"]["variant"] == "lite" and not model.training
    assert torch.equal(model.predict(x), saved.predict(x))
    torch.manual_seed(4)
    assert not torch.equal(build_u2net("lite").eval().predict(x), saved.predict(x))


def test_segment_folder_with_a_bad_image(tmp_path, repo):
    d = _model_dir(tmp_path)
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(imgs / f"a{i}.jpg")
    Image.fromarray(rng.integers(0, 255, (100, 100), dtype=np.uint8)).save(imgs / "grey.png")
    (imgs / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "masks"
    r = subprocess.run([sys.executable, "-m", "scalpvision.cli", "segment", str(imgs), "--out",
                        str(out), "--model", str(d), "--refiner", "grabcut"],
                       capture_output=True, text=True, cwd=repo)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["images"] == 4 and summary["masks_written"] == 3 and summary["unreadable"] == 1
    assert "broken.jpg" in r.stderr and "cannot decode" in r.stderr
    assert read_mask(out / "a0.png").shape == (120, 160)
    assert read_mask(out / "grey.png").shape == (100, 100)
    assert "unreadable" in (out / "segment_report.csv").read_text()


def test_segment_bad_model_dir_is_a_clear_error(tmp_path, repo):
    r = subprocess.run([sys.executable, "-m", "scalpvision.cli", "segment", str(tmp_path),
                        "--out", str(tmp_path / "o"), "--model", str(tmp_path / "nomodel")],
                       capture_output=True, text=True, cwd=repo)
    assert r.returncode == 2 and "not a model directory" in r.stderr
