import pytest
import yaml

from scalpvision.config import ConfigError, apply_profile, load_section, validate_params


def _write(tmp_path, data):
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_repo_params_are_valid(repo):
    assert "render" in validate_params(repo / "params.yaml")


def test_unknown_key_names_section_and_valid_keys(tmp_path, repo):
    data = yaml.safe_load((repo / "params.yaml").read_text())
    data["render"]["n_imgs"] = 5
    with pytest.raises(ConfigError) as e:
        load_section("render", _write(tmp_path, data))
    msg = str(e.value)
    assert "render" in msg and "n_imgs" in msg and "n_images" in msg


def test_missing_key_and_bad_type(tmp_path, repo):
    data = yaml.safe_load((repo / "params.yaml").read_text())
    del data["split"]["seed"]
    with pytest.raises(ConfigError, match="missing key.*seed"):
        load_section("split", _write(tmp_path, data))
    data = yaml.safe_load((repo / "params.yaml").read_text())
    data["render"]["n_images"] = "many"
    with pytest.raises(ConfigError, match="n_images: expected an integer"):
        load_section("render", _write(tmp_path, data))


def test_unknown_section_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="valid sections"):
        load_section("renderr", tmp_path / "x.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_section("render", tmp_path / "nope.yaml")


def test_paper_profile_overlays_demo(repo):
    base = yaml.safe_load((repo / "params.yaml").read_text())
    paper = yaml.safe_load((repo / "profiles/paper.yaml").read_text())
    merged = apply_profile(base, paper)
    assert merged["profile"] == "paper"
    assert merged["render"]["n_images"] > base["render"]["n_images"]
    assert merged["render"]["seed"] == base["render"]["seed"]  # untouched keys survive
