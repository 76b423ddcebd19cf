"""Model kinds and pins: one registry of kinds, one pin file."""

import pytest
import yaml

from scalpvision.errors import UserError
from scalpvision.ops.kinds import get_kind, pins


def _constraints(repo):
    out = {}
    for line in (repo / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            n, v = line.split("==", 1)
            out[n.strip().lower().replace("_", "-")] = v.strip()
    return out


def test_builtin_kinds_are_found_and_unknown_ones_list_them():
    assert get_kind("segmenter").reads == ("seg_eval",)
    assert get_kind("alopecia").reads == ("alopecia",)
    assert get_kind("classifier").reads == ("classifier",)
    with pytest.raises(UserError, match="known kinds: .*alopecia.*segmenter"):
        get_kind("magic")
    with pytest.raises(UserError, match="module not found"):
        get_kind("no_such_package.kind")


def test_every_pin_comes_from_constraints(repo):
    c = _constraints(repo)
    for kind in ("segmenter", "alopecia", "classifier"):
        for pin in pins(get_kind(kind).pip_packages):
            name, version = pin.split("==")
            assert c[name.lower().replace("_", "-")] == version, pin


def test_the_bento_is_built_with_the_same_pins(repo, tmp_path, monkeypatch):
    import shutil

    from scalpvision.ops.packaging import BENTOFILE, pinned_bentofile

    (tmp_path / "serving").mkdir()
    shutil.copy(repo / BENTOFILE, tmp_path / BENTOFILE)
    shutil.copy(repo / "constraints.txt", tmp_path / "constraints.txt")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    spec = yaml.safe_load(pinned_bentofile(tmp_path).read_text())
    c = _constraints(repo)
    assert spec["python"]["packages"] and all(
        c[p.split("==")[0].lower().replace("_", "-")] == p.split("==")[1]
        for p in spec["python"]["packages"])
    src = yaml.safe_load((repo / BENTOFILE).read_text())
    assert all("==" not in p for p in src["python"]["packages"])  # one pin file, not two


def test_requirements_name_packages_and_constraints_pin_each_of_them(repo):
    c = _constraints(repo)
    names = [line.strip() for line in (repo / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert names and all("=" not in n for n in names)
    bare = [n.split("[")[0] for n in names]  # ray[data]: the extra's packages are pinned too
    assert [n for n in bare if n.lower().replace("_", "-") not in c] == []
