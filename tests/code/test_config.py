"""Parameters: one definition of each setting, strict loading, profiles as load-time overlays."""

import dataclasses

import pytest
import yaml

from scalpvision.config import (
    SECTIONS, ConfigError, load_params, required_fields, resolved_dict,
)


def _write(tmp_path, data, name="params.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def _fields_with_defaults(cls, data, where):
    """Keys of ``data`` that name a field of ``cls`` that has a default (recursively)."""
    hits = []
    required = set(required_fields(cls))
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        if f.name not in required:
            hits.append(f"{where}.{f.name}")
        sub = f.type if isinstance(f.type, type) else None
        hint = __import__("typing").get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint) and isinstance(data[f.name], dict):
            hits += _fields_with_defaults(hint, data[f.name], f"{where}.{f.name}")
        elif getattr(hint, "__origin__", None) is tuple and sub is None:
            (item,) = hint.__args__[:1]
            if dataclasses.is_dataclass(item):
                for i, v in enumerate(data[f.name]):
                    hits += _fields_with_defaults(item, v, f"{where}.{f.name}[{i}]")
    return hits


def test_repo_params_are_valid_and_every_setting_is_defined_once(repo):
    """params.yaml loads, and sets no key whose field has a default in the code: a setting is
    either in the file (no default anywhere) or a library constant (not in the file)."""
    P = load_params(repo / "params.yaml")
    assert {"render", "segment", "serve"} <= set(P.sections())
    data = yaml.safe_load((repo / "params.yaml").read_text())
    hits = [h for name, cls in SECTIONS.items() if name in data
            for h in _fields_with_defaults(cls, data[name], name)]
    assert hits == []


def test_section_classes_have_no_defaults_of_their_own():
    for name, cls in SECTIONS.items():
        assert required_fields(cls) == [f.name for f in dataclasses.fields(cls)], name


def test_unknown_key_names_section_and_valid_keys(tmp_path, repo):
    data = yaml.safe_load((repo / "params.yaml").read_text())
    data["segment"]["prompts"]["thresh"] = 5
    with pytest.raises(ConfigError) as e:
        load_params(_write(tmp_path, data))
    msg = str(e.value)
    assert "segment.prompts" in msg and "thresh" in msg and "threshold" in msg


def test_missing_key_and_bad_type(tmp_path, repo):
    data = yaml.safe_load((repo / "params.yaml").read_text())
    del data["split"]["seed"]
    with pytest.raises(ConfigError, match="split: missing key.*seed"):
        load_params(_write(tmp_path, data))
    data = yaml.safe_load((repo / "params.yaml").read_text())
    data["render"]["n_images"] = "many"
    with pytest.raises(ConfigError, match="n_images: expected an integer"):
        load_params(_write(tmp_path, data))


def test_unknown_section_missing_file_and_section(tmp_path, repo):
    data = yaml.safe_load((repo / "params.yaml").read_text())
    data["renderr"] = {}
    with pytest.raises(ConfigError, match="unknown section.*renderr"):
        load_params(_write(tmp_path, data))
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="no section 'scale_out'"):
        load_params(repo / "params.yaml").scale_out


def test_paper_profile_is_an_overlay_at_load_time(repo, tmp_path):
    demo = load_params(repo / "params.yaml")
    paper = load_params(repo / "params.yaml", profile="paper")
    assert paper.profile == "paper" and demo.profile == "demo"
    assert paper.render.n_images > demo.render.n_images
    assert paper.render.seed == demo.render.seed  # untouched keys survive
    assert paper.segment.prompts.threshold == 0.5 and paper.u2net.train.epochs == 100
    # the file's own `profile:` key does the same, and nothing rewrites the file
    data = yaml.safe_load((repo / "params.yaml").read_text())
    data["profile"] = "paper"
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles/paper.yaml").write_text((repo / "profiles/paper.yaml").read_text())
    f = _write(tmp_path, data)
    before = f.read_text()
    assert load_params(f).u2net.train == paper.u2net.train
    assert f.read_text() == before
    with pytest.raises(ConfigError, match="no such profile"):
        load_params(f, profile="gpu-farm")


def test_overrides_replace_one_key_and_refuse_unknown_ones(repo):
    data, _ = resolved_dict(repo / "params.yaml", overrides={"segment.prompts.box": 12})
    assert data["segment"]["prompts"]["box"] == 12
    with pytest.raises(ConfigError, match="no such key"):
        load_params(repo / "params.yaml", overrides={"segment.prompts.boxx": 1})
