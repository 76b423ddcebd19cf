"""One real service for the serving tests, made the way the pipeline makes it: small models are
registered in a temporary MLflow registry and promoted to champion, `scalpvision package`
imports them into a temporary BentoML store and builds + exports the bento, and
`bentoml serve <bento tag>` serves the built bento on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

BIN = Path(sys.executable).parent
# not the defaults: the service must measure features as the registered model's table was
SERVED_FEATURE_SETTINGS = {"count_method": "strands", "min_strand_length": 60}


@dataclass
class Served:
    url: str
    info: dict
    tmp: Path
    image: Path          # a 640x480 rendered scalp image
    params: Path
    env: dict
    feature_settings: dict


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _register(tmp: Path, uri: str) -> None:
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from scalpvision.alopecia.model import GbmParams, build_model
    from scalpvision.alopecia.registry import register_alopecia
    from scalpvision.ops.checkpoints import save_model_dir
    from scalpvision.config import SegmentParams, as_dict
    from scalpvision.ops.promotion import apply, decide
    from scalpvision.ops.registry import register_segmenter
    from scalpvision.segmentation.u2net import build_u2net

    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("serving-test", artifact_location=(tmp / "artifacts").as_uri())
    mlflow.set_experiment("serving-test")
    import torch

    torch.manual_seed(0)
    model_dir = save_model_dir(tmp / "u2net", build_u2net("lite"),
                               {"builder": "u2net", "kwargs": {"variant": "lite"},
                                "preprocessing": {"infer_long_side": 320}})
    seg_cfg = as_dict(SegmentParams(refiner="grabcut"))
    rng = np.random.default_rng(0)
    names = ["length", "iqr_mean", "iqr_median", "mean", "median", "hair_count"]
    x = pd.DataFrame(rng.uniform(0, 50, (80, 6)), columns=names)
    y = np.arange(80) % 4
    gbm = build_model(GbmParams(n_estimators=20)).fit(x, y)
    with mlflow.start_run():
        register_segmenter(model_dir, seg_cfg, "scalpvision-hair-segmenter",
                           {"test_dice": 0.5}, {"eval_manifest_hash": "t"})
        register_alopecia(gbm, x.head(3), "scalpvision-alopecia",
                          {"accuracy": 0.5, "weighted_f1": 0.5, "macro_f1": 0.5},
                          {"eval_manifest_hash": "t"}, SERVED_FEATURE_SETTINGS)
    client = MlflowClient()
    for name, metric in (("scalpvision-hair-segmenter", "test_dice"),
                         ("scalpvision-alopecia", "test_weighted_f1")):
        apply(client, decide(client, name, "1", metric), tmp / "promotions.jsonl")
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def served(tmp_path_factory, repo):
    from PIL import Image

    from scalpvision.data.synthetic import render_scalp

    tmp = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    _register(tmp, uri)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["tracking"] = {"uri": uri, "experiment": "serving-test",
                          "artifact_dir": str(tmp / "artifacts")}
    params["serve"].update(bentoml_home=str(tmp / "bentoml"),
                           export_path=str(tmp / "scalpvision.bento"))
    pfile = tmp / "params.yaml"
    pfile.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    env = {**os.environ, "BENTOML_HOME": str(tmp / "bentoml"), "BENTOML_DO_NOT_TRACK": "true",
           "MLFLOW_TRACKING_URI": uri}
    r = subprocess.run([str(BIN / "scalpvision"), "package", "--params", str(pfile),
                        "--info", str(tmp / "package.json")], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    info = json.loads((tmp / "package.json").read_text())
    rendered = render_scalp({f"value_{i}": v for i, v in enumerate([1, 0, 1, 0, 0, 2], 1)},
                            np.random.default_rng(3))
    image = tmp / "scalp.png"
    Image.fromarray(rendered.image).save(image)

    port = _free_port()
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen([str(BIN / "bentoml"), "serve", info["bento"], "--host",
                             "127.0.0.1", "--port", str(port)], cwd=tmp, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"bentoml serve exited ({proc.returncode}):\n"
                        f"{(tmp / 'serve.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"service not ready in 180 s:\n{(tmp / 'serve.log').read_text()[-3000:]}")
    yield Served(url, info, tmp, image, pfile, env, SERVED_FEATURE_SETTINGS)
    os.killpg(proc.pid, 15)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
    log.close()
