"""The real tools end to end on a copy of the repo, as a team runs them: `dvc repro` (tiny
profile) logs and registers against a shared MLflow server (PostgreSQL backend, S3 artifacts,
authentication on), promotes the champions and builds the bento from that registry; a second
`dvc repro` runs nothing; `dvc push` / `dvc pull` round-trip through an S3 remote on the same
object store. Then the execution settings: switching to Ray or to DDP under torchrun re-runs
nothing by itself, and forced re-runs give the same outputs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.scale]
BIN = Path(sys.executable).parent


def _sh(cmd, cwd, env):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=True)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """PostgreSQL + SeaweedFS S3 + mlflow server (basic auth) on 127.0.0.1."""
    from scalpvision.ops.team_server import TeamServer

    with TeamServer(tmp_path_factory.mktemp("team"), admin_password="team-admin-pw") as ts:
        yield ts


@pytest.fixture(scope="module")
def work(tmp_path_factory, repo, team):
    dst = tmp_path_factory.mktemp("repo") / "sv"
    keep = ["dvc.yaml", "params.yaml", "pipelines", "data_checks", "profiles", ".dvc",
            ".dvcignore", ".gitignore", "scalpvision", "serving"]
    dst.mkdir()
    for k in keep:
        src = repo / k
        if src.is_dir():
            shutil.copytree(src, dst / k, ignore=shutil.ignore_patterns("tmp", "cache"))
        elif src.exists():
            shutil.copy2(src, dst / k)
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["render"]["n_images"] = 25
    # a tiny segmentation chain: minutes -> seconds (quality is not the point here)
    params["pseudo"].update(n_pairs=12, max_source_images=10, max_ridge_share=0.05,
                            unlabelled_dirs=["missing_folder_is_skipped"])
    params["u2net"].update(val_real_images=1, val_pseudo_pairs=2)
    params["u2net"]["train"].update(epochs=1, batch_size=4, crop=64, bn_recalibration_images=2,
                                    infer_long_side=160)
    params["seg_eval"].update(max_images=2, ablation_images=1, n_overlays=1, unlabelled_dirs=[])
    params["features"].update(grid_widths=[3.0], grid_angles=2)
    params["alopecia"]["gbm"]["n_estimators"] = 20
    params["alopecia"]["cnn"].update(epochs=1, image_size=32, batch_size=8)
    params["classifier"].update(bootstrap=20, baseline_estimators=10, real_frames_dir="")
    params["classifier"]["model"].update(image_size=32)
    params["classifier"]["train"].update(epochs=1, batch_size=8)
    params["scalp_gate"].update(scalp_images=6, negatives_per_kind=2, photo_views=1,
                                estimators=20, real_dirs=[])
    params["diffusion"].update(width=32, height=24, channels=[8, 16])
    params["diffusion"]["train"].update(epochs=1, batch_size=8)
    params["guidance"]["train"].update(dim=32, depth=1, heads=2, epochs=1, batch_size=8)
    params["augment"].update(batch_size=2, methods=["diffuseit_m", "diffuseit"],
                             classifier_variants=["diffuseit_m", "diffuseit"])  # both arms
    params["augment"]["pairs"].update(n_pairs=4, rounds=2, more_severe=False)  # 17 train images
    params["augment"]["sampler"].update(respacing=20, skip=8, fast_steps=2)
    params["augment"]["eval"].update(pairs=2, masks=["zeros"], kid_subset=2, kid_subsets=2,
                                     contact_rows=1)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **team.client_env()}
    _sh("git init -q && git config user.email t@t && git config user.name t && git add -A && "
        "git commit -qm init", dst, env)
    for cmd in team.dvc_remote_commands():
        _sh(" ".join(cmd), dst, env)
    _sh("dvc remote default s3remote", dst, env)
    return dst, env


def test_repro_push_pull_and_mlflow(work, team):
    dst, env = work
    out = _sh("dvc repro", dst, env)
    assert (dst / "data/manifest.csv").is_file()
    assert "PASSED" in (dst / "reports/data_checks/index.html").read_text()
    assert (dst / "reports/render/contact_sheet.jpg").is_file()
    again = _sh("dvc repro", dst, env)
    assert "Data and pipelines are up to date" in again, again
    _sh("dvc push -q", dst, env)
    assert not (dst / ".dvc-remote").exists()
    # the S3 keys are in .dvc/config.local (git-ignored), never in the committed config
    assert team.s3_secret not in (dst / ".dvc/config").read_text()
    assert team.s3_secret in (dst / ".dvc/config.local").read_text()
    _sh("git check-ignore -q .dvc/config.local", dst, env)
    import boto3
    s3 = boto3.client("s3", endpoint_url=team.s3_endpoint, region_name="us-east-1",
                      aws_access_key_id=team.s3_key, aws_secret_access_key=team.s3_secret)
    listed = s3.list_objects_v2(Bucket="scalpvision", Prefix="dvc/")
    assert listed["KeyCount"] > 0
    shutil.rmtree(dst / "data")
    shutil.rmtree(dst / ".dvc" / "cache")
    _sh("dvc pull -q", dst, env)
    assert (dst / "data/manifest.csv").is_file() and any((dst / "data/aihub").rglob("*.jpg"))
    import mlflow
    os.environ.update(team.client_env())  # this process reads the registry as the team does
    mlflow.set_tracking_uri(team.tracking_uri)
    runs = mlflow.search_runs(experiment_names=["scalpvision"])
    assert not (dst / "mlflow.db").exists()  # nothing went to the embedded store
    # artifacts went through the server into S3 (the client holds no S3 keys)
    assert runs["artifact_uri"].str.startswith("mlflow-artifacts:").all()
    assert s3.list_objects_v2(Bucket="scalpvision", Prefix="mlartifacts/")["KeyCount"] > 0
    assert {"render", "import", "split", "check"} <= set(runs["tags.mlflow.runName"])
    assert runs["tags.git.commit"].str.len().eq(40).all()
    imp = runs[runs["tags.mlflow.runName"] == "import"].iloc[0]
    assert isinstance(imp["tags.dvc.input.data/aihub"], str) and len(imp["tags.dvc.input.data/aihub"]) >= 32
    stages = yaml.safe_load((dst / "dvc.yaml").read_text())["stages"]
    assert all(f"Running stage '{s}'" in out for s in stages)
    seg = runs[runs["tags.mlflow.runName"] == "seg_eval"].iloc[0]
    assert seg["tags.refiner"] == "grabcut"  # no SAM checkpoint configured -> offline refiner
    assert 0 <= seg["metrics.ensemble_M.dice"] <= 1
    assert (dst / "reports/segmentation/table.md").read_text().count("baseline:") == 3
    n_rows = len((dst / "data/manifest.csv").read_text().splitlines()) - 1
    assert len(list((dst / "data/hair_masks").glob("*.png"))) == n_rows > 0
    from mlflow.tracking import MlflowClient
    versions = MlflowClient().search_model_versions("name='scalpvision-hair-segmenter'")
    assert len(versions) == 1 and "metric.test_dice" in versions[0].tags
    # promote: the first versions become champions, each decision audited
    client = MlflowClient()
    for name in ("scalpvision-hair-segmenter", "scalpvision-alopecia",
                 "scalpvision-scalp-classifier", "scalpvision-scalp-gate",
                 "scalpvision-diffusion-unet"):
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    from scalpvision.ops.promotion import read_audit
    import json
    audit = read_audit(dst / "registry/promotions.jsonl")
    assert [a["promoted"] for a in audit] == [True] * 5
    # augmentation: the sets and their manifests, one MLflow run per generation run, the loop
    import pandas as pd
    for method in ("diffuseit_m", "diffuseit"):
        m = pd.read_csv(dst / "data/augment/sets" / method / "manifest.csv")
        assert list(m.columns[:6]) == ["source", "target", "dandruff", "sebum", "erythema", "path"]
        assert len(m) and all((dst / "data/augment/sets" / method / p).is_file() for p in m.path)
        assert (m.method == method).all()
    aug = runs[(runs["tags.table"] == "augment")
               & runs["tags.mlflow.runName"].str.startswith("augment_")]
    assert {"augment_diffuseit_m", "augment_diffuseit", "augment_sdedit"} <= set(
        aug["tags.mlflow.runName"])
    assert aug["metrics.hair_dice"].between(0, 1).all()
    assert (dst / "reports/augment/contact_sheet.jpg").is_file()
    loop = json.loads((dst / "metrics/classifier_augmented.json").read_text())
    for v in ("diffuseit_m", "diffuseit"):
        lo, hi = loop[f"{v}_difference_ci"]
        assert -1 <= lo <= hi <= 1 and loop[f"{v}_augmented_images"] == len(pd.read_csv(
            dst / "data/augment/sets" / v / "manifest.csv"))
    # classifier: CNN, classical baseline and majority, each a run of the Table 2 comparison
    cls = runs[runs["tags.table"] == "classifier"]
    assert set(cls["tags.model_kind"]) == {"four_head_cnn", "colour_texture_gbm", "majority_class"}
    assert ((cls["metrics.test_macro_f1_lo"] <= cls["metrics.test_macro_f1"])
            & (cls["metrics.test_macro_f1"] <= cls["metrics.test_macro_f1_hi"])).all()
    cm = json.loads((dst / "metrics/classifier.json").read_text())
    assert cm["registered_version"] == "1" and 0 <= cm["val_macro_f1"] <= 1
    gate = json.loads((dst / "metrics/scalp_gate.json").read_text())
    assert gate["registered_version"] == "1" and 0 <= gate["test_false_refusal_rate"] <= 1
    # package: a bento built from those champions and exported to one file
    pkg = json.loads((dst / "metrics/package.json").read_text())
    assert (dst / "dist/scalpvision.bento").stat().st_size == pkg["bytes"] > 100_000
    assert pkg["models"]["alopecia"]["registered_version"] == "1"
    assert {r: m["kind"] for r, m in pkg["models"].items()} == {
        "gate": "scalp_gate", "segmenter": "segmenter", "alopecia": "alopecia",
        "classifier": "classifier"}
    pseudo = runs[runs["tags.mlflow.runName"] == "pseudo"].iloc[0]
    assert pseudo["tags.unlabelled_dirs_missing"] == "missing_folder_is_skipped"
    gbm = runs[runs["tags.mlflow.runName"] == "alopecia"].iloc[0]
    assert gbm["tags.cv"].startswith(("5-fold", "skipped: "))  # 25 images: few subjects
    u2 = runs[runs["tags.mlflow.runName"] == "u2net"].iloc[0]
    assert "metrics.val_dice_pseudo" in runs.columns and u2["tags.init"] == "random"


def _repro_with(work, section: str, **values) -> str:
    """Set ``values`` in ``section`` of the work repo's params.yaml, then `dvc repro`."""
    dst, env = work
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params[section].update(values)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    return _sh("dvc repro", dst, env)


def test_changing_a_param_reruns_only_downstream(work):
    out = _repro_with(work, "split", seed=99)
    assert "Stage 'render' didn't change" in out and "Running stage 'split'" in out


def test_new_candidate_on_another_test_set_rescoring_the_champion(work):
    """A candidate scored on other test rows: promote re-scores the old champion on the
    candidate's rows before comparing, and the audit records both values."""
    dst, _ = work
    out = _repro_with(work, "seg_eval", max_images=1)
    assert "Running stage 'promote'" in out and "Running stage 'package'" in out
    from scalpvision.ops.promotion import read_audit
    audit = read_audit(dst / "registry/promotions.jsonl")
    seg = [a for a in audit if a["model"] == "scalpvision-hair-segmenter"]
    assert len(seg) == 2 and seg[1]["candidate_version"] == "2" and seg[1]["from_version"] == "1"
    assert seg[1]["manifest_hash"] != seg[0]["manifest_hash"]
    assert seg[1]["champion_value"] is not None       # v1 re-scored on the one-image test set
    assert seg[1]["promoted"] == (seg[1]["candidate_value"] > seg[1]["champion_value"])


def test_registry_refuses_strangers_and_read_only_users(work, team):
    """Basic auth on the shared server: no credentials -> 401; a user with READ (the
    default) cannot move the champion alias; the admin can."""
    import requests
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client
    from mlflow.tracking import MlflowClient

    r = requests.get(f"{team.tracking_uri}/api/2.0/mlflow/registered-models/search", timeout=30)
    assert r.status_code == 401
    os.environ.update(team.client_env())
    get_app_client("basic-auth", tracking_uri=team.tracking_uri).create_user(
        "viewer", "viewer-password-1")
    name = "scalpvision-alopecia"
    os.environ.update(team.client_env("viewer", "viewer-password-1"))
    viewer = MlflowClient(team.tracking_uri)
    assert str(viewer.get_model_version_by_alias(name, "champion").version) == "1"  # can read
    with pytest.raises(MlflowException, match="(?i)permission"):
        viewer.set_registered_model_alias(name, "champion", "1")
    os.environ.update(team.client_env())
    MlflowClient(team.tracking_uri).set_registered_model_alias(name, "champion", "1")


def test_execution_engine_is_not_a_dependency_and_ray_gives_the_same_outputs(work):
    """Ray for the batch stages, torchrun for training: changing the engine re-runs nothing;
    a forced re-run of features on Ray writes byte-identical outputs."""
    dst, env = work
    _sh("dvc repro", dst, env)  # settle whatever the earlier tests changed
    before = yaml.safe_load((dst / "dvc.lock").read_text())["stages"]
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["execution"].update(engine="ray", actors=1, cpus_per_actor=0.5, shard_size=8)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    status = _sh("dvc status", dst, env)
    assert "up to date" in status, status
    # (segmentation on Ray, same shards and task as the hair_masks stage: tests/scale/test_ray)
    out = _sh("dvc repro -f -s features", dst, env)
    assert "features (ray" in out
    after = yaml.safe_load((dst / "dvc.lock").read_text())["stages"]
    data = lambda st: [o for o in st["outs"] if not o["path"].startswith("metrics/")]  # noqa: E731
    # (metrics hold the run's seconds per image)
    assert data(after["features"]) == data(before["features"])
    assert len(data(after["features"])) >= 1
    assert not list((dst / "data").rglob("*.shards"))  # work folders are cleaned up
    # DDP: the classifier trains in two gloo processes under torchrun, by configuration alone
    params["execution"].update(engine="local", train_processes=2)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    assert "up to date" in _sh("dvc status", dst, env)
    # (the diffusion stage relaunches through the same `relaunch_under_torchrun`)
    out = _sh("dvc repro -f -s u2net classifier", dst, env)
    assert out.count("relaunching under torchrun") == 2, out[-3000:]
    import json
    import mlflow
    os.environ.update(env)
    runs = mlflow.search_runs(experiment_names=["scalpvision"],
                              filter_string="tags.model_kind = 'four_head_cnn'",
                              order_by=["start_time DESC"])
    assert runs.iloc[0]["tags.ddp_processes"] == "2" and len(runs) >= 2
    u2 = mlflow.search_runs(experiment_names=["scalpvision"], order_by=["start_time DESC"],
                            filter_string="tags.mlflow.runName = 'u2net'")
    assert u2.iloc[0]["tags.ddp_processes"] == "2" and u2.iloc[0]["status"] == "FINISHED"
    assert json.loads((dst / "metrics/classifier.json").read_text())["registered_version"] == "2"
