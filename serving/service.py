"""The ScalpVision BentoML service: the champion hair segmenter and alopecia model over HTTP.

Endpoints (POST, multipart field ``image``): ``/segment``, ``/hair_features``, ``/alopecia``,
``/diagnose``. GET ``/ui/`` is the web page, GET ``/ui/health`` names the loaded model versions;
BentoML adds ``/healthz``, ``/livez``, ``/readyz`` and ``/docs``. Bad input is answered with a
4xx JSON ``{"error": ..., "status": ...}``, never a 500.

The models are the ones ``scalpvision package`` imported into the BentoML store from
``models:/<name>@champion``; settings come from the ``serve`` section of params.yaml.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import bentoml
from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from scalpvision.config import ServeParams, load_section
from scalpvision.serving import UploadGuard

HERE = Path(__file__).resolve().parent


def _settings() -> ServeParams:
    path = Path(os.environ.get("SCALPVISION_PARAMS", "params.yaml"))
    return load_section("serve", path) if path.is_file() else ServeParams()


S = _settings()
STATE: dict = {}   # the analyzer, once the worker has loaded it (for the UI routes)


async def _page(request):
    return FileResponse(HERE / "static" / "index.html", media_type="text/html")


async def _health(request):
    a = STATE.get("analyzer")
    return JSONResponse({"ready": a is not None, "models": a.versions() if a else {}},
                        status_code=200 if a else 503)


ui = Starlette(routes=[Route("/", _page), Route("/health", _health)])


def _info(ref, name: str):
    from scalpvision.serving import ModelInfo

    m = bentoml.models.get(ref.tag) if hasattr(ref, "tag") else ref
    labels = dict(m.info.labels)
    return ModelInfo(name=labels.get("registered_model", name),
                     version=labels.get("registered_version", "?"),
                     alias=labels.get("alias", ""), store_tag=str(m.tag),
                     metrics=dict(m.info.metadata or {}))


@bentoml.asgi_app(ui, path="/ui")
@bentoml.service(name=S.service_name, workers=S.workers,
                 traffic={"timeout": 600, "max_concurrency": 64})
class ScalpVision:
    segmenter_ref = bentoml.models.BentoModel(f"{S.segmenter_model}:latest")
    alopecia_ref = bentoml.models.BentoModel(f"{S.alopecia_model}:latest")

    def __init__(self) -> None:
        from scalpvision.serving import ScalpAnalyzer, UploadRules

        self.rules = UploadRules(int(S.max_upload_mb * 2**20),
                                 tuple(S.expected_size))  # type: ignore[arg-type]
        self.analyzer = ScalpAnalyzer(
            Path(self.segmenter_ref.path), Path(self.alopecia_ref.path),
            _info(self.segmenter_ref, S.segmenter_model), _info(self.alopecia_ref,
                                                                S.alopecia_model),
            um_per_px=S.um_per_px, threads=os.cpu_count() or 1)
        STATE["analyzer"] = self.analyzer

    def _run(self, image: Path, fn):
        from scalpvision.serving import InputError, decode_upload

        try:
            name = re.sub(r"^tmp[0-9a-z_]{8}", "", Path(image).name)  # BentoML's temp prefix
            data = Path(image).read_bytes()
            return fn(decode_upload(data, name, self.rules))
        except InputError as exc:
            return JSONResponse({"error": str(exc), "status": exc.status},
                                status_code=exc.status)

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
            f = self.analyzer.features(self.analyzer.mask(img), um_per_px)
            f.pop("_paper_features")
            return {**f, "notes": img.notes, "models": self.analyzer.versions()}
        return self._run(image, go)

    @bentoml.api
    def alopecia(self, image: Path) -> dict:
        """Alopecia grade 0-3 with the class probabilities."""
        def go(img):
            f = self.analyzer.features(self.analyzer.mask(img), 0.0)
            return {**self.analyzer.grade(f["_paper_features"]), "notes": img.notes,
                    "models": self.analyzer.versions()}
        return self._run(image, go)

    @bentoml.api
    def diagnose(self, image: Path, um_per_px: float | None = None) -> dict:
        """Everything in one call, with the model versions that answered."""
        return self._run(image, lambda img: self.analyzer.diagnose(
            img, um_per_px))


ScalpVision.add_asgi_middleware(  # type: ignore[attr-defined]
    UploadGuard,
    paths=("/segment", "/hair_features", "/alopecia", "/diagnose"),
    max_bytes=int(S.max_upload_mb * 2**20))
