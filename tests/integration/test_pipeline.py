"""The real tools end to end on a copy of the repo: `dvc repro` (tiny profile) leaves a
manifest, a data-check report and MLflow runs; a second `dvc repro` runs nothing; `dvc push` /
`dvc pull` work against the local remote."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def _sh(cmd, cwd, env):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=True)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def work(tmp_path_factory, repo):
    dst = tmp_path_factory.mktemp("repo") / "sv"
    keep = ["dvc.yaml", "params.yaml", "pipelines", "data_checks", "profiles", ".dvc",
            ".dvcignore", ".gitignore"]
    dst.mkdir()
    for k in keep:
        src = repo / k
        if src.is_dir():
            shutil.copytree(src, dst / k, ignore=shutil.ignore_patterns("tmp", "cache"))
        elif src.exists():
            shutil.copy2(src, dst / k)
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["render"]["n_images"] = 25
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    _sh("git init -q && git config user.email t@t && git config user.name t && git add -A && "
        "git commit -qm init", dst, env)
    return dst, env


def test_repro_push_pull_and_mlflow(work):
    dst, env = work
    out = _sh("dvc repro", dst, env)
    assert (dst / "data/manifest.csv").is_file()
    assert "PASSED" in (dst / "reports/data_checks/index.html").read_text()
    assert (dst / "reports/render/contact_sheet.jpg").is_file()
    again = _sh("dvc repro", dst, env)
    assert "Data and pipelines are up to date" in again, again
    _sh("dvc push -q", dst, env)
    assert any((dst / ".dvc-remote").rglob("*"))
    shutil.rmtree(dst / "data")
    shutil.rmtree(dst / ".dvc" / "cache")
    _sh("dvc pull -q", dst, env)
    assert (dst / "data/manifest.csv").is_file() and any((dst / "data/aihub").rglob("*.jpg"))
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{dst / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["scalpvision"])
    assert {"render", "import", "split", "check"} <= set(runs["tags.mlflow.runName"])
    assert runs["tags.git.commit"].str.len().eq(40).all()
    imp = runs[runs["tags.mlflow.runName"] == "import"].iloc[0]
    assert isinstance(imp["tags.dvc.input.data/aihub"], str) and len(imp["tags.dvc.input.data/aihub"]) >= 32
    assert out.count("Running stage") == 4


def test_changing_a_param_reruns_only_downstream(work):
    dst, env = work
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["split"]["seed"] = 99
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    out = _sh("dvc repro", dst, env)
    assert "Stage 'render' didn't change" in out and "Running stage 'split'" in out
