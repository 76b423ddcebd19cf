"""The DVC graph is honest: every stage declares exactly the parameter sections its code reads
and every library module it imports; removing any one declaration is caught."""

import copy

import pytest
import yaml

from scalpvision.ops.dvc_graph import check_graph, module_closure, section_reads


@pytest.fixture(scope="module")
def dvc(repo):
    return yaml.safe_load((repo / "dvc.yaml").read_text())


def test_every_stage_declares_what_its_code_reads(repo, dvc):
    assert check_graph(repo, dvc) == []


def test_tracking_is_read_but_never_a_stage_param(repo, dvc):
    for stage, spec in dvc["stages"].items():
        assert "tracking" not in spec["params"], stage
    reads, _ = section_reads(repo, __import__("pathlib").Path("pipelines/render.py"))
    assert {"render", "tracking"} == reads


def test_removing_any_declared_module_or_section_is_caught(repo, dvc):
    """Each declared code dep and each param section, removed alone, makes the check fail,
    naming the stage and what is missing."""
    removed = 0
    for stage, spec in dvc["stages"].items():
        for i, dep in enumerate(spec["deps"]):
            if not str(dep).endswith(".py"):
                continue
            broken = copy.deepcopy(dvc)
            del broken["stages"][stage]["deps"][i]
            problems = check_graph(repo, broken)
            assert any(p.startswith(f"{stage}:") and dep in p for p in problems), (stage, dep)
            removed += 1
        for i, sec in enumerate(spec["params"]):
            broken = copy.deepcopy(dvc)
            del broken["stages"][stage]["params"][i]
            assert any(p.startswith(f"{stage}:") and (repr(sec) in p or "profile" in p)
                       for p in check_graph(repo, broken)), (stage, sec)
    assert removed > 50


def test_an_undeclared_lazy_import_and_an_extra_section_are_caught(repo, dvc, tmp_path):
    broken = copy.deepcopy(dvc)
    broken["stages"]["split"]["params"].append("render")
    assert "split: declares params section 'render', never read" in check_graph(repo, broken)
    # lazy imports inside functions count: seg_eval's closure reaches the refiners module
    closure = module_closure(repo, __import__("pathlib").Path("pipelines/seg_eval.py"))
    assert any(str(m).endswith("segmentation/refiners.py") for m in closure)


def test_one_stage_owns_each_output(dvc):
    owners = {}
    for stage, spec in dvc["stages"].items():
        for o in spec.get("outs", []) + spec.get("metrics", []):
            path = o if isinstance(o, str) else next(iter(o))
            assert path not in owners, f"{path}: {owners.get(path)} and {stage}"
            owners[path] = stage
    assert owners["data/hair_masks"] == "hair_masks"
    assert not any(p.startswith("data/masks") for p in owners)
