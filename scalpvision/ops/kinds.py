"""Model kinds: one lifecycle for every model the platform trains, registers and serves.

A kind says how a model of its sort is logged to MLflow (and so registered), how a registered
version is re-scored for promotion, and how a served copy answers. Everything around it -
registration with its tags, promotion, the BentoML import, packaging, the service's roles,
``summary`` - is generic and iterates over kinds and roles.

Adding a kind is one module and a params entry: a module ``scalpvision/<capability>/kind.py``
(found by :func:`get_kind` on its own) or any importable module named by its dotted path in
``promote.models[].kind``, that calls :func:`register_kind`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scalpvision.errors import BadInputError

KIND_TAG = "scalpvision.kind"  # registry version tag and BentoML label naming the kind


class ServedModel(Protocol):
    """A loaded model playing one role in the service.

    ``answer(ctx)`` reads what it needs from the per-request context (``ctx["image"]``: the
    decoded upload, ``ctx["rgb"]``: (H, W, 3) uint8; earlier roles add more, e.g. ``mask``)
    and returns ``(entries for the answer, entries for the context)``."""

    def answer(self, ctx: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]: ...


@dataclass(frozen=True)
class ModelKind:
    """How one sort of model goes through the lifecycle.

    ``log(source, registered_name, pip_requirements)``: log ``source`` (what the training
    stage hands over) to the active MLflow run as a model registered under ``registered_name``;
    returns MLflow's ``ModelInfo``.
    ``evaluate(params, model_uri)``: re-score a registered version on the current frozen test
    set; returns the metrics promotion compares (same keys as the tags it was registered with).
    ``serve(model_path, params)``: load a copy of the logged model (an MLflow model directory,
    e.g. inside the BentoML store) as a :class:`ServedModel`.
    ``pip_packages``: distribution names whose pinned versions the logged model declares.
    ``reads``: the parameter sections ``evaluate`` reads (the promote stage declares them).
    """
    name: str
    log: Callable[[Any, str, list[str]], Any]
    evaluate: Callable[[Any, str], dict[str, float]]
    serve: Callable[[Path, Any], ServedModel]
    pip_packages: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, ModelKind] = {}


def register_kind(kind: ModelKind) -> ModelKind:
    KINDS[kind.name] = kind
    return kind


def _discover() -> None:
    import scalpvision

    for mod in pkgutil.iter_modules(scalpvision.__path__):
        if mod.ispkg and importlib.util.find_spec(f"scalpvision.{mod.name}.kind") is not None:
            importlib.import_module(f"scalpvision.{mod.name}.kind")


def get_kind(name: str) -> ModelKind:
    """The kind called ``name``: a built-in one (``scalpvision/*/kind.py``), or the one an
    importable module of that dotted name registers."""
    if name not in KINDS:
        _discover()
    if name not in KINDS and "." in name:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise BadInputError(f"model kind {name!r}: module not found ({exc})") from exc
    if name not in KINDS:
        raise BadInputError(f"unknown model kind {name!r}; known kinds: "
                            f"{', '.join(sorted(KINDS))} (or a module path that registers one)")
    return KINDS[name]


def pins(packages: tuple[str, ...] | list[str]) -> list[str]:
    """``name==version`` for each package, from the repository's ``constraints.txt`` (the one
    file that pins the stack), else from the installed distribution."""
    from importlib.metadata import PackageNotFoundError, version

    from scalpvision.ops.tracking import repo_root

    pinned: dict[str, str] = {}
    cfile = repo_root() / "constraints.txt"
    if cfile.is_file():
        for line in cfile.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                n, v = line.split("==", 1)
                pinned[n.strip().lower().replace("_", "-")] = v.strip()
    out = []
    for p in packages:
        key = p.lower().replace("_", "-")
        if key in pinned:
            out.append(f"{p}=={pinned[key]}")
        else:
            try:
                out.append(f"{p}=={version(p)}")
            except PackageNotFoundError:
                out.append(p)
    return out
