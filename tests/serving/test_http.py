"""Every endpoint of the built bento over HTTP - through BentoML's client and as raw multipart -
with good and bad input. The served mask must be the one the library computes from the same
registered model, and the answers must name the champion versions."""

import base64
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from PIL import Image


def _decode_png(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


def _post(served, endpoint, files=None, **kw):
    return httpx.post(f"{served.url}/{endpoint}", files=files, timeout=120, **kw)


def _png_bytes(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def reference(served):
    """The mask the library makes with the registered champion (downloaded from MLflow)."""
    import mlflow

    from scalpvision.io import read_image
    from scalpvision.segmentation.store import load_logged_segmenter

    mlflow.set_tracking_uri(served.env["MLFLOW_TRACKING_URI"])
    local = Path(mlflow.artifacts.download_artifacts(
        "models:/scalpvision-hair-segmenter@champion", dst_path=str(served.tmp / "ref")))
    mlflow.set_tracking_uri(None)
    return load_logged_segmenter(local)(read_image(served.image)).final


def test_features_are_measured_with_the_registered_models_settings(served, reference):
    """A 35-px stub counts as a hair with params.yaml's minimum strand length (30 px) but not
    with the 60 px the served alopecia model was registered with."""
    import cv2
    import mlflow

    from _params import PARAMS
    from scalpvision.serve.analyzer import ModelInfo, ScalpAnalyzer

    mlflow.set_tracking_uri(served.env["MLFLOW_TRACKING_URI"])
    dirs = {k: Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion",
                                                        dst_path=str(served.tmp / f"own_{k}")))
            for k, name in (("seg", "scalpvision-hair-segmenter"), ("alo", "scalpvision-alopecia"))}
    mlflow.set_tracking_uri(None)
    an = ScalpAnalyzer([("segmenter", dirs["seg"], ModelInfo("s", "1", "segmenter")),
                        ("alopecia", dirs["alo"], ModelInfo("a", "1", "alopecia"))], PARAMS)
    m = np.zeros((480, 640), np.uint8)
    cv2.line(m, (100, 200), (135, 200), 1, 5)
    cv2.line(m, (100, 300), (500, 330), 1, 5)
    assert served.feature_settings["count"]["strands"]["min_strand_length"] == 60
    assert PARAMS.features.count.strands.min_strand_length == 30
    assert an.role("alopecia").features(m.astype(bool))["hair_count"] == 1


def test_readiness_and_health(served):
    assert httpx.get(f"{served.url}/readyz").status_code == 200
    assert httpx.get(f"{served.url}/livez").status_code == 200
    h = httpx.get(f"{served.url}/ui/health").json()
    assert h["ready"] is True
    assert h["models"]["segmenter"]["version"] == "1"
    assert h["models"]["alopecia"]["alias"] == "champion"
    assert {r: m["kind"] for r, m in h["models"].items()} == {
        "gate": "scalp_gate", "segmenter": "segmenter", "alopecia": "alopecia",
        "brightness": "sv_plugins.brightness", "classifier": "classifier"}


def test_a_third_model_kind_is_packaged_and_served_by_a_params_entry(served, reference):
    """The plugin kind went through register -> promote -> package -> serve with no change
    to the platform's code: the bento carries it, /diagnose answers with it (after the
    segmenter, whose mask it reads), and its version is among those that answered."""
    from scalpvision.io import read_image

    assert served.info["models"]["brightness"]["kind"] == "sv_plugins.brightness"
    r = _post(served, "diagnose", files={"image": ("scalp.png", served.image.read_bytes(),
                                                   "image/png")})
    assert r.status_code == 200, r.text
    d = r.json()
    rgb = read_image(served.image)
    assert d["brightness"]["value"] == pytest.approx(rgb.mean() / 255 * 2.0, rel=1e-6)
    assert d["brightness"]["hair_fraction_seen"] == pytest.approx(reference.mean())
    assert d["models"]["brightness"] == {**d["models"]["brightness"], "name": "sv-brightness",
                                         "version": "1", "alias": "champion"}


def test_segment_raw_multipart_matches_the_library(served, reference):
    r = _post(served, "segment", files={"image": ("scalp.png", served.image.read_bytes(),
                                                  "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    mask = _decode_png(body["mask_png"])
    assert mask.shape == (480, 640) and set(np.unique(mask)) <= {0, 255}
    assert np.array_equal(mask > 0, reference)
    assert body["hair_fraction"] == pytest.approx(reference.mean())
    assert _decode_png(body["overlay_png"]).shape == (480, 640, 3)
    assert body["models"]["segmenter"]["name"] == "scalpvision-hair-segmenter"
    assert body["notes"] == []


def test_concurrent_requests_share_a_u2net_batch(served, reference):
    """Adaptive batching: eight requests at once meet in the batching worker; every answer is
    still the library's mask."""
    from concurrent.futures import ThreadPoolExecutor

    data = served.image.read_bytes()
    before = httpx.post(f"{served.url}/batches", json={}, timeout=60).json()
    assert before["enabled"] is True
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _post(served, "segment", files={
            "image": ("scalp.png", data, "image/png")}), range(8)))
    after = httpx.post(f"{served.url}/batches", json={}, timeout=60).json()
    assert [r.status_code for r in answers] == [200] * 8
    assert all(np.array_equal(_decode_png(r.json()["mask_png"]) > 0, reference) for r in answers)
    assert after["images"] - before["images"] == 8
    assert after["batches"] - before["batches"] < 8 and after["largest"] > 1


def test_all_endpoints_through_the_bentoml_client(served, reference):
    import bentoml

    from scalpvision.features.table import count_params_from, hair_features
    from scalpvision.segmentation.area import analysed_area

    # measured with the registered model's feature settings, not the defaults, on the analysed
    # area, with widths between the hair's edges in the uploaded frame
    rgb = np.asarray(Image.open(served.image).convert("RGB"))
    area = analysed_area(rgb).mask
    assert served.feature_settings["count"]["strands"]["width_edge"] == "image"
    truth = hair_features(reference, count=count_params_from(served.feature_settings), area=area,
                          image=rgb)
    with bentoml.SyncHTTPClient(served.url, timeout=120) as c:
        assert c.is_ready()
        s = c.segment(image=served.image)
        f = c.hair_features(image=served.image)
        a = c.alopecia(image=served.image)
        d = c.diagnose(image=served.image, um_per_px=2.0)
    assert np.array_equal(_decode_png(s["mask_png"]) > 0, reference)
    assert f["hair_count"] == int(truth["hair_count"])
    assert f["mean_width_px"] == pytest.approx(truth["mean"]) and f["calibrated"] is False
    assert a["grade"] in (0, 1, 2, 3)
    assert sum(a["probabilities"].values()) == pytest.approx(1.0)
    assert a["grade"] == int(max(a["probabilities"], key=a["probabilities"].get))
    assert d["alopecia"]["grade"] == a["grade"]
    assert d["hair_features"]["hair_count"] == f["hair_count"]
    assert d["hair_features"]["calibrated"] is True
    assert d["hair_features"]["mean_width_um"] == pytest.approx(2.0 * truth["hair_mean_width"])
    assert d["hair_features"]["analysed_share"] == pytest.approx(area.mean())
    assert d["hair_features"]["density_per_cm2"] == pytest.approx(
        truth["hair_count"] / (area.sum() * (2.0e-4) ** 2))
    hairs = d["hair_features"]["hairs"]  # the per-hair table, as trichoscopy tools give it
    assert len(hairs) == f["hair_count"] == len(f["hairs"])
    assert all(h["class"] in ("vellus", "terminal") and h["length_um"] > 0 for h in hairs)
    assert d["models"]["segmenter"]["version"] == "1" and d["models"]["alopecia"]["version"] == "1"
    assert d["models"]["alopecia"]["store_tag"] == served.info["models"]["alopecia"]["tag"]


def test_non_rgb_and_other_sizes_are_converted_with_notes(served):
    rgb = np.asarray(Image.open(served.image))
    grey16 = (rgb[..., 1].astype(np.uint16) * 257)
    r = _post(served, "diagnose", files={"image": ("g.png", _png_bytes(grey16), "image/png")})
    assert r.status_code == 200 and "converted I;16" in r.json()["notes"][0]
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    r = _post(served, "segment", files={"image": ("a.png", _png_bytes(rgba), "image/png")})
    assert r.status_code == 200 and "converted RGBA" in r.json()["notes"][0]
    small = np.asarray(Image.fromarray(rgb).resize((320, 240)))
    r = _post(served, "segment", files={"image": ("s.png", _png_bytes(small), "image/png")})
    assert r.status_code == 200
    assert "resized 320x240 to 640x480" in r.json()["notes"][0]
    assert _decode_png(r.json()["mask_png"]).shape == (480, 640)


@pytest.mark.parametrize("endpoint", ["segment", "hair_features", "alopecia", "scalp_conditions",
                                      "diagnose"])
@pytest.mark.parametrize("name,data,status,words", [
    ("notes.txt", b"just some text, not an image", 415, "not a PNG"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 422, "cannot decode"),
    ("empty.png", b"", 400, "empty upload"),
])
def test_bad_uploads_are_4xx_json(served, endpoint, name, data, status, words):
    r = _post(served, endpoint, files={"image": (name, data, "application/octet-stream")})
    assert r.status_code == status, r.text
    body = r.json()
    assert words in body["error"] and name in body["error"] and body["status"] == status


def test_scalp_conditions_answer_with_the_registered_classifier(served):
    """/scalp_conditions and /diagnose give the three conditions as the library predicts them
    with the champion downloaded from MLflow, and name the classifier version."""
    import mlflow

    from scalpvision.classification.kind import _model_dir
    from scalpvision.classification.predictor import load_classifier_dir
    from scalpvision.io import read_image

    mlflow.set_tracking_uri(served.env["MLFLOW_TRACKING_URI"])
    local = Path(mlflow.artifacts.download_artifacts(
        "models:/scalpvision-scalp-classifier@champion", dst_path=str(served.tmp / "cls")))
    mlflow.set_tracking_uri(None)
    want = load_classifier_dir(_model_dir(local)).predict([read_image(served.image)])
    floor = yaml.safe_load(served.params.read_text())["classifier"]["min_confidence"]
    files = {"image": ("scalp.png", served.image.read_bytes(), "image/png")}
    r = _post(served, "scalp_conditions", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    d = _post(served, "diagnose", files=files).json()
    for k, c in enumerate(("dandruff", "sebum", "erythema")):
        got = body["scalp_conditions"][c]
        assert got["presence_probability"] == pytest.approx(want["presence"][0, k], abs=1e-4)
        assert [got["probabilities"][str(g)] for g in range(4)] == pytest.approx(
            list(want[c][0]), abs=1e-4)
        assert got["uncertain"] == (got["confidence"] < floor) and \
            (got["grade"] is None) == got["uncertain"]
        assert d["scalp_conditions"][c] == got
    assert body["models"]["classifier"]["version"] == "1"
    assert d["models"]["classifier"]["kind"] == "classifier"


def test_oversized_upload_is_413(served):
    big = np.random.default_rng(0).integers(0, 255, (2000, 2600, 3), dtype=np.uint8)
    data = _png_bytes(big)
    assert len(data) > 12 * 2**20
    r = _post(served, "diagnose", files={"image": ("big.png", data, "image/png")})
    assert r.status_code == 413 and "upload limit" in r.json()["error"]


def test_malformed_requests_are_4xx_not_500(served):
    r = httpx.post(f"{served.url}/diagnose", json={"image": "x"}, timeout=30)
    assert 400 <= r.status_code < 500
    r = httpx.post(f"{served.url}/diagnose", content=b"garbage", timeout=30,
                   headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert 400 <= r.status_code < 500
    r = _post(served, "diagnose", files={"image": ("a.png", served.image.read_bytes())},
              data={"um_per_px": "-3"})
    assert r.status_code == 422 and "um_per_px" in r.json()["error"]
    r = _post(served, "diagnose", files={"image": ("a.png", served.image.read_bytes())},
              data={"um_per_px": "abc"})
    assert 400 <= r.status_code < 500


def test_exported_bento_is_a_file_with_both_models(served):
    import tarfile

    path = Path(served.info["export"])
    assert path.is_file() and served.info["bytes"] == path.stat().st_size
    with tarfile.open(path) as t:
        names = t.getnames()
    assert any("models/scalpvision-hair-segmenter" in n for n in names)
    assert any("models/scalpvision-alopecia" in n for n in names)
    assert any(n.endswith("serving/service.py") for n in names)
    assert any(n.endswith("env/docker/Dockerfile") for n in names)  # a container recipe
    assert json.loads(json.dumps(served.info))["models"]["segmenter"]["registered_version"] == "1"


def test_upload_guard_answers_before_the_app(served):
    r = httpx.post(f"{served.url}/segment", content=b"x" * 100, timeout=30,
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]
    r = _post(served, "segment", files={"picture": ("a.png", served.image.read_bytes())})
    assert r.status_code == 400 and "'image'" in r.json()["error"]
    # a declared 1 GB body is refused from its headers, before it is sent
    import socket

    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /segment HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                  b"boundary=b\r\nContent-Length: 1000000000\r\n\r\n--b\r\n")
        data = b""
        while b"}" not in data:   # headers, then the JSON body
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.decode("latin-1")
    assert head.startswith("HTTP/1.1 413") and "upload limit" in head


def _flat(colour):
    return np.full((480, 640, 3), colour, np.uint8)


def _document():
    import cv2

    page = np.full((480, 640, 3), 245, np.uint8)
    for y in range(40, 460, 28):
        cv2.putText(page, "the report of findings follows with dates", (20, y),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 1, cv2.LINE_AA)
    return page


@pytest.mark.parametrize("endpoint", ["segment", "alopecia", "scalp_conditions", "diagnose"])
@pytest.mark.parametrize("what,image", [("flat colour", _flat((200, 120, 90))),
                                        ("document", _document())])
def test_an_image_that_is_not_a_scalp_is_refused_not_graded(served, endpoint, what, image):
    """The gate answers 422 naming why, on every endpoint, before any model grades it."""
    r = _post(served, endpoint, files={"image": (f"{what}.png", _png_bytes(image), "image/png")})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err.startswith(f"{what}.png: not a microscopic scalp image") and "graded" in err
    assert "grade" not in r.json() and "scalp_conditions" not in r.json()


def test_a_scalp_image_passes_the_gate_and_diagnose_says_so(served):
    r = _post(served, "diagnose", files={"image": ("s.png", served.image.read_bytes(),
                                                    "image/png")})
    assert r.status_code == 200, r.text
    check = r.json()["scalp_check"]
    assert check["passed"] is True and 0.5 <= check["scalp_probability"] <= 1
    assert r.json()["models"]["gate"]["name"] == "scalpvision-scalp-gate"
