"""The importer on a synthetic tree with Korean folder names and duplicate filings, and every
quarantine path: corrupt JPEG, missing JSON, value "7", wrong size, conflicting labels."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from scalpvision.data import layout
from scalpvision.data.aihub import ImportFailure, import_tree


@pytest.fixture()
def tree(small_tree, tmp_path):
    dst = tmp_path / "aihub"
    shutil.copytree(small_tree, dst)
    return dst


def _images(root):
    return sorted(root.glob(f"*/{layout.IMAGE_ROOT}/*/*.jpg"))


def _label_for(img):
    split = img.parents[2]
    return next(split.glob(f"{layout.LABEL_ROOT}/*/{img.stem}.json"))


def test_clean_tree_imports_every_image_once(tree):
    res = import_tree(tree, ground_truth_dir=tree / "ground_truth")
    names = {p.name for p in _images(tree)}
    assert len(res.images) == len(names) == 20
    assert res.quarantine.empty
    assert res.stats["duplicate_filings"] == len(_images(tree)) - 20 > 0
    assert res.images["image_file_name"].is_unique
    row = res.images.iloc[0]
    assert (row.width, row.height, row["mode"]) == (640, 480, "RGB")
    assert row.dandruff == max(row.value_1, row.value_5)
    assert row.group == f"{row.code}_{row.serial}"
    assert res.images["mask_path"].str.endswith(".png").all()
    assert (res.images["gt_hair_count"] >= 0).all()
    # folder names really are the Korean AI-Hub ones
    assert any("[원천]" in p.parent.name and "." in p.parent.name for p in _images(tree))


def test_each_bad_file_is_quarantined_with_file_and_reason(tree):
    imgs = _images(tree)
    by_name = {}
    for p in imgs:
        by_name.setdefault(p.name, []).append(p)
    singles = [v[0] for v in by_name.values() if len(v) == 1]
    corrupt, nolabel, bad_value, small = singles[:4]
    corrupt.write_bytes(corrupt.read_bytes()[:2000])  # truncated JPEG
    _label_for(nolabel).unlink()
    lab = _label_for(bad_value)
    data = json.loads(lab.read_text(encoding="utf-8"))
    data["value_3"] = "7"
    lab.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    Image.fromarray(np.zeros((240, 320, 3), np.uint8)).save(small)
    res = import_tree(tree)
    q = res.quarantine.set_index("image_file_name")
    assert q.loc[corrupt.name, "reason"] == "corrupt_image"
    assert q.loc[nolabel.name, "reason"] == "missing_label"
    assert q.loc[bad_value.name, "reason"] == "malformed_label"
    assert "value_3='7' is out of range" in q.loc[bad_value.name, "detail"]
    assert q.loc[small.name, "reason"] == "wrong_size"
    assert "320x240" in q.loc[small.name, "detail"]
    assert str(corrupt) in set(res.quarantine["file"])
    # nothing lost: every distinct name is either imported or quarantined
    assert set(res.images["image_file_name"]) | set(q.index) == set(by_name)
    assert len(res.images) == 16


def test_conflicting_duplicate_labels_are_listed(tree):
    imgs = _images(tree)
    seen = {}
    dup = next(p for p in imgs if seen.setdefault(p.name, p) is not p)
    labs = sorted(tree.glob(f"*/{layout.LABEL_ROOT}/*/{dup.stem}.json"))
    assert len(labs) == 2
    data = json.loads(labs[1].read_text(encoding="utf-8"))
    data["value_6"] = str((int(data["value_6"]) + 1) % 4)
    labs[1].write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    res = import_tree(tree)
    assert res.stats["label_conflicts"] == 1
    assert dup.name in res.stats["conflicts"][0] and str(labs[1]) in res.stats["conflicts"][0]


def test_missing_image_and_bad_source(tree, tmp_path):
    img = _images(tree)[0]
    for p in tree.glob(f"*/{layout.IMAGE_ROOT}/*/{img.name}"):
        p.unlink()
    res = import_tree(tree)
    assert "label_without_image" in set(res.quarantine["reason"])
    with pytest.raises(ImportFailure, match="no Training or Validation"):
        import_tree(tmp_path)
    with pytest.raises(ImportFailure, match="not found"):
        import_tree(tmp_path / "nope")


def test_cli_fails_over_bad_share_without_traceback(tree, tmp_path):
    for p in _images(tree)[:6]:
        p.write_bytes(b"not a jpeg")
    out = tmp_path / "manifest.csv"
    r = subprocess.run([sys.executable, "-m", "scalpvision.cli", "import", str(tree), "--out",
                        str(out), "--max-bad-share", "0.1"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "exceed" in r.stderr or "bad" in r.stderr
    assert "Traceback" not in r.stderr
    assert (tmp_path / "manifest.quarantine.csv").is_file()
