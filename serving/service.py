"""The ScalpVision BentoML service: every model of ``serve.models`` over HTTP, by role.

Endpoints (POST, multipart field ``image``): ``/segment`` (role ``segmenter``),
``/hair_features`` and ``/alopecia`` (role ``alopecia``), ``/diagnose`` (every role, in the
order ``serve.models`` lists them). GET ``/ui/`` is the web page, GET ``/ui/health`` names the
loaded model versions; GET ``/batches`` the batch sizes adaptive batching formed (``serve.batching``:
the segmenter's U²-Net runs in a model worker of its own, ``NetCalls``, where concurrent
requests are stacked into one forward pass); BentoML adds ``/healthz``, ``/livez``, ``/readyz`` and ``/docs``. Bad
input is answered with a 4xx JSON ``{"error": ..., "status": ...}``, never a 500.

The models are the ones ``scalpvision package`` imported into the BentoML store from
``models:/<registered_name>@<alias>``; settings come from the ``serve`` section of the
parameter file the bento was packaged with (``SCALPVISION_PARAMS`` overrides it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import bentoml
import numpy as np
from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from scalpvision.config import load_params
from scalpvision.serve.upload import UploadGuard

HERE = Path(__file__).resolve().parent
_PACKAGED = HERE.parent / "build" / "bento" / "params.yaml"  # `scalpvision package` writes it
P = load_params(os.environ.get("SCALPVISION_PARAMS") or
                (_PACKAGED if _PACKAGED.is_file() else "params.yaml"))
S = P.serve
STATE: dict = {}   # the analyzer, once the worker has loaded it (for the UI routes)
UPLOAD_PATHS = ("/segment", "/hair_features", "/alopecia", "/scalp_conditions", "/diagnose")


async def _page(request):
    return FileResponse(HERE / "static" / "index.html", media_type="text/html")


async def _health(request):
    a = STATE.get("analyzer")
    return JSONResponse({"ready": a is not None, "models": a.versions() if a else {}},
                        status_code=200 if a else 503)


ui = Starlette(routes=[Route("/", _page), Route("/health", _health)])


def _ref_attr(role: str) -> str:
    return f"model_{re.sub(r'[^0-9a-zA-Z_]', '_', role)}"


def _info(ref, name: str):
    from scalpvision.serve.analyzer import ModelInfo

    m = bentoml.models.get(ref.tag) if hasattr(ref, "tag") else ref
    labels = dict(m.info.labels)
    return ModelInfo(name=labels.get("registered_model", name),
                     version=labels.get("registered_version", "?"), kind=labels.get("kind", ""),
                     alias=labels.get("alias", ""), store_tag=str(m.tag),
                     metrics=dict(m.info.metadata or {}))


BATCH = S.batching.enabled and any(m.role == "segmenter" for m in S.models)


class NetCalls:
    """The U²-Net forward pass, batched across requests (one worker, so every request meets)."""

    def __init__(self) -> None:
        from scalpvision.segmentation.store import load_logged_segmenter
        from scalpvision.serve.batching import BatchLog

        self.net = load_logged_segmenter(Path(self.model_segmenter.path)).u2net
        self.log = BatchLog()

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=S.batching.max_batch_size,
                 max_latency_ms=S.batching.max_latency_ms)
    def u2net(self, x: np.ndarray) -> np.ndarray:
        import torch

        self.log.add(len(x))
        with torch.no_grad():
            return self.net.predict(torch.from_numpy(x)).float().numpy()

    @bentoml.api
    def batches(self) -> dict:
        return self.log.stats()


if BATCH:
    NetCalls.model_segmenter = bentoml.models.BentoModel(  # type: ignore[attr-defined]
        f"{S.model('segmenter').registered_name}:latest")
    NetCalls = bentoml.service(name=f"{S.service_name}-nets", workers=1,  # type: ignore[misc]
                               traffic={"timeout": 600})(NetCalls)


class ScalpVision:
    if BATCH:
        nets = bentoml.depends(NetCalls)

    def __init__(self) -> None:
        from scalpvision.serve.analyzer import ScalpAnalyzer
        from scalpvision.serve.upload import UploadRules

        self.rules = UploadRules(int(S.max_upload_mb * 2**20),
                                 tuple(S.expected_size))  # type: ignore[arg-type]
        roles = []
        for m in S.models:
            ref = getattr(self, _ref_attr(m.role))
            roles.append((m.role, Path(ref.path), _info(ref, m.registered_name)))
        self.analyzer = ScalpAnalyzer(roles, P, threads=os.cpu_count() or 1,
                                      serialise=not BATCH)
        if BATCH:  # the segmenter's U²-Net answers from the batching worker
            from scalpvision.serve.batching import RemoteNet, batch_shape

            seg = self.analyzer.role("segmenter").segmenter
            # looked up per call: the dependency's endpoints exist once the app has started
            seg.u2net = RemoteNet(lambda x: self.nets.u2net(x), seg.u2net,
                                  batch_shape(*S.expected_size, seg.long_side))
        STATE["analyzer"] = self.analyzer

    def _run(self, image: Path, fn):
        from scalpvision.errors import UserError
        from scalpvision.serve.upload import InputError, decode_upload

        try:
            name = re.sub(r"^tmp[0-9a-z_]{8}", "", Path(image).name)  # BentoML's temp prefix
            data = Path(image).read_bytes()
            return fn(self.analyzer.admit(decode_upload(data, name, self.rules)))
        except InputError as exc:
            return JSONResponse({"error": str(exc), "status": exc.status},
                                status_code=exc.status)
        except UserError as exc:  # e.g. an endpoint whose role this service does not serve
            return JSONResponse({"error": str(exc), "status": 404}, status_code=404)

    @bentoml.api
    def segment(self, image: Path) -> dict:
        """Hair mask M (PNG, base64) and an overlay (PNG, base64), with the hair pixel share."""
        def go(img):
            out = self.analyzer.segment(img)
            out.pop("mask")
            return {**out, "notes": img.notes,
                    "models": {"segmenter": self.analyzer.versions()["segmenter"]}}
        return self._run(image, go)

    @bentoml.api
    def hair_features(self, image: Path, um_per_px: float | None = None) -> dict:
        """Hair count and widths (px; µm and density per cm² when calibrated)."""
        def go(img):
            f = self.analyzer.role("alopecia").features(self.analyzer.mask(img), um_per_px,
                                                        image=img.rgb)
            f.pop("_paper_features")
            return {**f, "notes": img.notes, "models": self.analyzer.versions()}
        return self._run(image, go)

    @bentoml.api
    def alopecia(self, image: Path) -> dict:
        """Alopecia grade 0-3 with the class probabilities."""
        def go(img):
            a = self.analyzer.role("alopecia")
            f = a.features(self.analyzer.mask(img), 0.0, image=img.rgb)
            return {**a.grade(f["_paper_features"]), "notes": img.notes,
                    "models": self.analyzer.versions()}
        return self._run(image, go)

    @bentoml.api
    def scalp_conditions(self, image: Path) -> dict:
        """Dandruff, sebum and erythema: each grade 0-3 (or ``uncertain``) with its
        probabilities and the presence probability."""
        def go(img):
            return {**self.analyzer.conditions(img), "notes": img.notes,
                    "models": {"classifier": self.analyzer.versions()["classifier"]}}
        return self._run(image, go)

    @bentoml.api(route="/batches")
    def batches(self) -> dict:
        """The batches adaptive batching formed so far (sizes, largest, histogram)."""
        return {"enabled": BATCH, **(self.nets.batches() if BATCH else {})}

    @bentoml.api
    def diagnose(self, image: Path, um_per_px: float | None = None) -> dict:
        """Every role's answer in one call, with the model versions that answered."""
        return self._run(image, lambda img: self.analyzer.diagnose(img, um_per_px))


for _m in S.models:  # one store reference per role: the bento carries exactly these models
    setattr(ScalpVision, _ref_attr(_m.role), bentoml.models.BentoModel(
        f"{_m.registered_name}:latest"))

ScalpVision = bentoml.asgi_app(ui, path="/ui")(bentoml.service(  # type: ignore[misc]
    name=S.service_name, workers=S.workers,
    # with batching, as many requests in flight per worker as a batch holds (default: one)
    threads=S.batching.max_batch_size if BATCH else 1,
    traffic={"timeout": 600, "max_concurrency": 64})(ScalpVision))
ScalpVision.add_asgi_middleware(  # type: ignore[attr-defined]
    UploadGuard, paths=UPLOAD_PATHS, max_bytes=int(S.max_upload_mb * 2**20))
