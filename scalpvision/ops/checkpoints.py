"""A saved model is a directory: ``config.json`` (builder, kwargs, preprocessing, data hash, ...)
plus weights loaded with ``weights_only=True``. One :func:`load_model_dir` serves evaluation,
the registry and serving."""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch

from scalpvision.errors import BadInputError, MissingInputError


def save_model_dir(path: str | Path, model: torch.nn.Module, config: dict[str, Any]) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path / "weights.pt")
    (path / "config.json").write_text(json.dumps(config, indent=1, default=str))
    return path


def read_config(path: str | Path) -> dict[str, Any]:
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        raise MissingInputError(f"{path}: not a model directory (no config.json)")
    return json.loads(cfg.read_text())


def _u2net(**kwargs):
    from scalpvision.segmentation.u2net import build_u2net

    return build_u2net(**kwargs)


BUILDERS: dict[str, Callable[..., torch.nn.Module]] = {"u2net": _u2net}


def register_builder(name: str, fn: Callable[..., torch.nn.Module]) -> None:
    """Make ``config.json``'s ``"builder": name`` rebuildable: ``fn(**kwargs)`` -> module."""
    BUILDERS[name] = fn


def load_model_dir(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model a directory describes (``BUILDERS[config["builder"]](**kwargs)``) and
    load its weights on the CPU with ``weights_only=True``."""
    config = read_config(path)
    name = config.get("builder")
    if name not in BUILDERS:
        raise BadInputError(f"{path}: unknown builder {name!r}; valid: {', '.join(BUILDERS)}")
    model = BUILDERS[name](**config.get("kwargs", {}))
    state = torch.load(Path(path) / "weights.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval(), config


def load_trusted_skops(file: Path, trusted, what: str):
    """The object in a skops ``file``, refusing one that holds a type outside ``trusted``
    (a skops file is code-free, but only for the types one lets it build)."""
    import skops.io as sio

    file = Path(file)
    if not file.is_file():
        raise MissingInputError(f"{file.parent}: not {what} directory (no {file.name})")
    untrusted = sio.get_untrusted_types(file=file)
    unknown = sorted(set(untrusted) - set(trusted))
    if unknown:
        raise BadInputError(f"{file} holds types not on the trusted list: {unknown}")
    return sio.load(file, trusted=untrusted)
