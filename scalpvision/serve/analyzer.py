"""What the BentoML service does, without BentoML: the served models by role, and the analysis
of one scalp image by all of them. ``serving/service.py`` is the thin HTTP layer over this.

Each role is a model of some kind (:mod:`scalpvision.ops.kinds`) loaded from its copy in the
BentoML store. ``diagnose`` runs the roles in the order ``serve.models`` lists them over one
per-request context: the segmenter adds the hair mask, the roles after it read it. The
``gate`` role, when served, is not one of them: :meth:`ScalpAnalyzer.admit` runs it before any
endpoint, and an upload it refuses is answered 422 without being graded.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalpvision.errors import UserError
from scalpvision.serve.upload import DecodedImage


@dataclass
class ModelInfo:
    name: str
    version: str
    kind: str = ""
    alias: str = ""
    store_tag: str = ""
    metrics: dict = field(default_factory=dict)


@dataclass
class Role:
    name: str
    model: Any  # a ServedModel
    info: ModelInfo


class ScalpAnalyzer:
    """The served models, by role. ``roles``: (role name, model path, :class:`ModelInfo`) in
    answer order; each is loaded by its kind. CPU work is serialised (``serialise``):
    concurrent requests queue instead of fighting over the cores; with adaptive batching the
    U²-Net runs elsewhere and requests must reach it together, so nothing is serialised."""

    def __init__(self, roles: list[tuple[str, Path, ModelInfo]], params, threads: int = 0,
                 serialise: bool = True):
        import torch

        from scalpvision.ops.kinds import get_kind

        if threads:
            torch.set_num_threads(threads)
        self.roles = {name: Role(name, get_kind(info.kind).serve(Path(path), params), info)
                      for name, path, info in roles}
        self._lock = threading.Lock() if serialise else contextlib.nullcontext()

    def role(self, name: str):
        if name not in self.roles:
            raise UserError(f"this service has no {name!r} model; roles: "
                            f"{', '.join(self.roles)}")
        return self.roles[name].model

    def versions(self) -> dict:
        return {k: {"name": r.info.name, "version": r.info.version, "kind": r.info.kind,
                    "alias": r.info.alias, "store_tag": r.info.store_tag}
                for k, r in self.roles.items()}

    GATE = "gate"

    def admit(self, img: DecodedImage) -> DecodedImage:
        """Run the gate (when served) on ``img``: raises the 422 ``InputError`` naming why an
        upload is not a microscopic scalp image; otherwise records its answer on ``img``."""
        if self.GATE in self.roles and img.scalp_check is None:
            out, _ = self.roles[self.GATE].model.answer({"image": img, "rgb": img.rgb})
            img.scalp_check = out["scalp_check"]
        return img

    def mask(self, img: DecodedImage):
        """The final hair mask M, (H, W) bool."""
        with self._lock:
            return self.role("segmenter").mask(img.rgb)

    def segment(self, img: DecodedImage) -> dict:
        """M with its PNG and overlay (base64), for the answers that return them."""
        t0 = time.perf_counter()
        mask = self.mask(img)
        out, _ = self.role("segmenter").answer({"rgb": img.rgb, "mask": mask})
        return {"mask": mask, **out["segmentation"],
                "seconds": round(time.perf_counter() - t0, 3)}

    def conditions(self, img: DecodedImage) -> dict:
        """The scalp conditions of the ``classifier`` role."""
        with self._lock:
            out, _ = self.role("classifier").answer({"rgb": img.rgb})
        return out

    def diagnose(self, img: DecodedImage, um_per_px: float | None = None) -> dict:
        """Every role's answer for one image, with the versions that answered."""
        t0 = time.perf_counter()
        self.admit(img)
        ctx: dict[str, Any] = {"image": img, "rgb": img.rgb, "um_per_px": um_per_px}
        answer: dict[str, Any] = {} if img.scalp_check is None else {
            "scalp_check": img.scalp_check}
        for role in self.roles.values():
            if role.name == self.GATE:
                continue
            with self._lock:
                out, more = role.model.answer(ctx)
            answer.update(out)
            ctx.update(more)
        return {**answer, "models": self.versions(), "notes": img.notes,
                "seconds": round(time.perf_counter() - t0, 3)}
