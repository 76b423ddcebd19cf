"""One real service for the serving tests, made the way the pipeline makes it: small models are
registered in a temporary MLflow registry and promoted to champion, `scalpvision package`
imports them into a temporary BentoML store and builds + exports the bento, and
`bentoml serve <bento tag>` serves the built bento on 127.0.0.1.

Besides the segmenter and the alopecia model, a third model of a kind the platform has never
seen (``sv_plugins.brightness``, one module written here) is registered, promoted, packaged and
served through the same lifecycle, with only a params entry for it."""

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
# not params.yaml's 30 px: the service must measure features as the model's table was
SERVED_MIN_STRAND_LENGTH = 60
PLUGIN = '''"""A third model kind, outside the platform's code: mean image brightness times a factor."""
import json
from pathlib import Path

from scalpvision.ops.kinds import ModelKind, register_kind


def _log(scale, name, pip):
    import tempfile

    import mlflow.pyfunc

    class Brightness(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "brightness.json").write_text(json.dumps({"scale": scale}))
        return mlflow.pyfunc.log_model(name="brightness", python_model=Brightness(),
                                       artifacts={"cfg": str(Path(tmp) / "brightness.json")},
                                       pip_requirements=pip, registered_model_name=name)


class Served:
    def __init__(self, path):
        self.scale = json.loads(next(Path(path).rglob("brightness.json")).read_text())["scale"]

    def answer(self, ctx):
        return {"brightness": {"value": float(ctx["rgb"].mean()) / 255 * self.scale,
                               "hair_fraction_seen": float(ctx["mask"].mean())}}, {}


KIND = register_kind(ModelKind(name="sv_plugins.brightness", log=_log,
                               evaluate=lambda params, uri: {"test_score": 1.0},
                               serve=lambda path, params: Served(path), pip_packages=("numpy",)))
'''


@dataclass
class Served:
    url: str
    info: dict
    tmp: Path
    image: Path          # a 640x480 rendered scalp image
    params: Path
    env: dict
    feature_settings: dict
    plugin_dir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLASSIFIER = "scalpvision-scalp-classifier"


def _tiny_classifier(tmp: Path) -> Path:
    """A four-head classifier on timm's tiny test_resnet (random weights, 64 px)."""
    import torch

    from scalpvision.classification.data import Normalisation
    from scalpvision.classification.model import build_classifier
    from scalpvision.classification.params import ClassifierModelParams
    from scalpvision.classification.predictor import save_classifier_dir

    mp = ClassifierModelParams("test_resnet", "", 64)
    torch.manual_seed(0)
    model, _ = build_classifier(mp)
    return save_classifier_dir(tmp / "classifier", model, mp,
                               Normalisation((0.6, 0.5, 0.4), (0.2, 0.2, 0.2)), 0.5, {})


GATE = "scalpvision-scalp-gate"


def _register(tmp: Path, uri: str) -> dict:
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from _gate import tiny_gate
    from _params import PARAMS, count, gbm, refiner
    from scalpvision.alopecia.model import build_model
    from scalpvision.config import as_dict
    from scalpvision.features.table import feature_settings
    from scalpvision.ops.checkpoints import save_model_dir
    from scalpvision.ops.promotion import apply, decide
    from scalpvision.ops.registry import register
    from scalpvision.segmentation.u2net import build_u2net

    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("serving-test", artifact_location=(tmp / "artifacts").as_uri())
    mlflow.set_experiment("serving-test")
    import torch

    torch.manual_seed(0)
    model_dir = save_model_dir(tmp / "u2net", build_u2net("lite"),
                               {"builder": "u2net", "kwargs": {"variant": "lite"},
                                "preprocessing": {"infer_long_side": 320}})
    seg_cfg = as_dict(__import__("dataclasses").replace(PARAMS.segment, refiner=refiner()))
    rng = np.random.default_rng(0)
    names = ["length", "iqr_mean", "iqr_median", "mean", "median", "hair_count"]
    x = pd.DataFrame(rng.uniform(0, 50, (80, 6)), columns=names)
    y = np.arange(80) % 4
    model = build_model(gbm(n_estimators=20)).fit(x, y)
    settings = json.loads(json.dumps(feature_settings(
        type("F", (), {"count": count(min_strand_length=SERVED_MIN_STRAND_LENGTH)}))))
    with mlflow.start_run():
        register("segmenter", (model_dir, seg_cfg), "scalpvision-hair-segmenter",
                 {"test_dice": 0.5}, {"eval_manifest_hash": "t"})
        register("alopecia", (model, x.head(3), settings), "scalpvision-alopecia",
                 {"test_accuracy": 0.5, "test_weighted_f1": 0.5, "test_macro_f1": 0.5},
                 {"eval_manifest_hash": "t"})
        register("sv_plugins.brightness", 2.0, "sv-brightness", {"test_score": 1.0},
                 {"eval_manifest_hash": "t"})
        register("classifier", _tiny_classifier(tmp), CLASSIFIER, {"val_macro_f1": 0.2},
                 {"eval_manifest_hash": "t"})
        register("scalp_gate", tiny_gate(tmp / "gate"), GATE, {"val_balanced_error": 0.1},
                 {"eval_manifest_hash": "t"})
    client = MlflowClient()
    for name, metric in (("scalpvision-hair-segmenter", "test_dice"),
                         ("scalpvision-alopecia", "test_weighted_f1"),
                         ("sv-brightness", "test_score"), (CLASSIFIER, "val_macro_f1"),
                         (GATE, "val_balanced_error")):
        apply(client, decide(client, name, "1", metric), tmp / "promotions.jsonl")
    mlflow.set_tracking_uri(None)
    return settings


@pytest.fixture(scope="session")
def served(tmp_path_factory, repo):
    from PIL import Image

    from scalpvision.data.synthetic import render_scalp

    tmp = tmp_path_factory.mktemp("serving")
    plugins = tmp / "plugins"
    (plugins / "sv_plugins").mkdir(parents=True)
    (plugins / "sv_plugins" / "__init__.py").write_text('"""Test plugins."""\n')
    (plugins / "sv_plugins" / "brightness.py").write_text(PLUGIN)
    sys.path.insert(0, str(plugins))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    settings = _register(tmp, uri)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["tracking"] = {"uri": uri, "experiment": "serving-test",
                          "artifact_dir": str(tmp / "artifacts")}
    params["serve"].update(bentoml_home=str(tmp / "bentoml"),
                           export_path=str(tmp / "scalpvision.bento"))
    # the platform's roles as params.yaml lists them, plus a kind it has never seen: a params
    # entry, nothing else
    roles = {m["role"]: m for m in params["serve"]["models"]}
    assert list(roles) == ["gate", "segmenter", "alopecia", "classifier"], list(roles)
    params["serve"]["models"] = [roles["gate"], roles["segmenter"], roles["alopecia"], {
        "role": "brightness", "registered_name": "sv-brightness", "alias": "champion"},
        roles["classifier"]]
    pfile = tmp / "params.yaml"
    pfile.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    env = {**os.environ, "BENTOML_HOME": str(tmp / "bentoml"), "BENTOML_DO_NOT_TRACK": "true",
           "MLFLOW_TRACKING_URI": uri,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(plugins),
                                                       os.environ.get("PYTHONPATH")]))}
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
    yield Served(url, info, tmp, image, pfile, env, settings, plugins)
    os.killpg(proc.pid, 15)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
    log.close()


def pytest_collection_modifyitems(config, items):
    """Every serving test builds and starts the real service: slow (the README's test
    command runs them; `-m "not slow"` skips them)."""
    for item in items:
        if "/serving/" in str(item.fspath):
            item.add_marker(pytest.mark.slow)
