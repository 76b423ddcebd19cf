"""User mistakes get one clear line naming the problem, exit 2, and no traceback."""

import subprocess
import sys

import yaml


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "scalpvision.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_bad_path(tmp_path):
    r = _run("import", str(tmp_path / "missing"), "--out", str(tmp_path / "m.csv"))
    assert r.returncode == 2
    assert "missing: source folder not found" in r.stderr and "Traceback" not in r.stderr
    r = _run("check", str(tmp_path / "none.csv"), "--report-dir", str(tmp_path))
    assert r.returncode == 2 and "manifest not found" in r.stderr


def test_bad_params_key_names_valid_keys(tmp_path, repo):
    data = yaml.safe_load((repo / "params.yaml").read_text())
    data["check"]["report_folder"] = "x"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    r = _run("params", "--params", str(tmp_path / "params.yaml"))
    assert r.returncode == 2
    assert "report_folder" in r.stderr and "report_dir" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(repo / "pipelines/check.py"), "--params",
                        str(tmp_path / "params.yaml")], capture_output=True, text=True)
    assert r.returncode == 2 and "check: unknown key(s) report_folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_profile(tmp_path, repo):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "params.yaml").write_text((repo / "params.yaml").read_text())
    r = _run("params", "--params", str(tmp_path / "params.yaml"), "--profile", "gpu")
    assert r.returncode == 2 and "no such profile" in r.stderr


def test_render_then_import_round_trip(tmp_path):
    r = _run("render", "--out", str(tmp_path / "t"), "--n-images", "6", "--workers", "1")
    assert r.returncode == 0, r.stderr
    r = _run("import", str(tmp_path / "t"), "--out", str(tmp_path / "m.csv"))
    assert r.returncode == 0, r.stderr
    import pandas as pd
    m = pd.read_csv(tmp_path / "m.csv")
    assert len(m) == 6 and set(m["split"]) <= {"train", "val", "test"}


def test_features_per_hair_table(tmp_path, repo):
    """`scalpvision features --per-hair`: one row per hair of each mask, widths and µm classes
    that match the drawn hairs; an unreadable mask is reported, not fatal."""
    import numpy as np
    import pandas as pd

    from scalpvision.features.accuracy import drawn_hair
    from scalpvision.io import write_mask

    write_mask(tmp_path / "m" / "two.png", drawn_hair(3.0, 20.0) | drawn_hair(12.0, 100.0))
    (tmp_path / "m" / "bad.png").write_bytes(b"not a png")
    r = subprocess.run([sys.executable, "-m", "scalpvision.cli", "features", str(tmp_path / "m"),
                        "--out", str(tmp_path / "f.csv"), "--per-hair", str(tmp_path / "h.csv"),
                        "--um-per-px", "5"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "bad.png" in r.stderr
    hairs = pd.read_csv(tmp_path / "h.csv").sort_values("width_px")
    assert list(hairs.image_id) == ["two", "two"]
    assert np.allclose(hairs.width_px, [3.0, 12.0], atol=0.5)
    assert list(hairs["class"]) == ["vellus", "terminal"]  # 15 µm and 60 µm against 40 µm
    table = pd.read_csv(tmp_path / "f.csv")
    assert table.hair_count.tolist() == [2] and abs(table.hair_mean_width[0] - 7.5) < 0.5


def test_features_measured_in_the_frames_with_images(tmp_path, repo):
    """`scalpvision features --images DIR`: widths between the hair's edges in each mask's
    frame (a mask 2 px too wide reads the drawn width); a mask without a frame is reported."""
    import cv2
    import numpy as np
    import pandas as pd

    from scalpvision.features.accuracy import drawn_hair
    from scalpvision.io import write_image, write_mask

    cover = cv2.GaussianBlur(drawn_hair(6.0, 25.0).astype(np.float32), (0, 0), 1.0)[..., None]
    skin, hair = np.array([222, 172, 160], np.float32), np.array([70, 45, 35], np.float32)
    write_image(tmp_path / "f" / "hair.png", (skin + cover * (hair - skin)).astype(np.uint8))
    write_mask(tmp_path / "m" / "hair.png", drawn_hair(8.0, 25.0))
    write_mask(tmp_path / "m" / "orphan.png", drawn_hair(8.0, 25.0))
    r = subprocess.run([sys.executable, "-m", "scalpvision.cli", "features", str(tmp_path / "m"),
                        "--images", str(tmp_path / "f"), "--out", str(tmp_path / "f.csv")],
                       cwd=repo, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "orphan.png: no frame named orphan.*" in r.stderr
    table = pd.read_csv(tmp_path / "f.csv")
    assert table.image_id.tolist() == ["hair"] and abs(table.hair_mean_width[0] - 6.0) < 0.3
