"""Registering a model of any kind: log it through its kind to the active MLflow run, register
the version, and tag it with its metrics, its kind and its provenance."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from scalpvision.errors import MissingInputError

from scalpvision.ops.kinds import KIND_TAG, get_kind, pins

log = logging.getLogger(__name__)


def register(kind_name: str, source: Any, name: str, metrics: dict[str, float],
             tags: dict[str, str]) -> str:
    """Log ``source`` as a model of kind ``kind_name``, register it under ``name`` and tag the
    version (``metric.<k>``, :data:`KIND_TAG`, ``tags``); returns the version."""
    from mlflow.tracking import MlflowClient

    kind = get_kind(kind_name)
    info = kind.log(source, name, pins(kind.pip_packages))
    version = str(info.registered_model_version)
    client = MlflowClient()
    all_tags = {**{f"metric.{k}": f"{float(v):.5f}" for k, v in metrics.items()},
                KIND_TAG: kind.name, **tags}
    for k, v in all_tags.items():
        client.set_model_version_tag(name, version, k, str(v))
    log.info("registered %s v%s (%s)", name, version, kind.name)
    return version


def version_kind(client, name: str, version: str) -> str:
    """The kind a registered version was tagged with."""
    v = client.get_model_version(name, version)
    kind = v.tags.get(KIND_TAG)
    if not kind:
        raise LookupError(f"{name} v{version} has no {KIND_TAG!r} tag (registered outside "
                          "scalpvision.ops.registry.register)")
    return kind


def resolve_model_dir(explicit: str, registered_name: str, fallback: str | Path,
                      tracking=None, alias: str = "champion", what: str = "model",
                      hint: str = "") -> tuple[Path, str]:
    """(model directory, where it came from): ``explicit`` when given; else the registry's
    ``registered_name@alias`` when ``tracking`` (``TrackingParams``) reaches one; else the
    ``fallback`` directory (a model directory holds ``config.json``). Nothing found is a
    :class:`MissingInputError`."""
    if explicit:
        p = Path(explicit)
        if not (p / "config.json").is_file():
            raise MissingInputError(f"{p}: not a model directory (no config.json)")
        return p, f"model directory {p}"
    fallback = Path(fallback)
    if tracking is not None:
        import mlflow
        from mlflow.exceptions import MlflowException

        from scalpvision.ops.tracking import setup_mlflow

        setup_mlflow(tracking)
        uri = f"models:/{registered_name}@{alias}"
        try:
            local = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tempfile.mkdtemp(prefix="sv-model-")))
        except MlflowException as exc:  # no such model or alias yet: the fallback, said so
            log.info("no registered %s (%s); using %s", uri, exc, fallback)
        else:
            model_dir = next((p.parent for p in sorted(local.rglob("config.json"))), None)
            if model_dir is not None:
                return model_dir, f"registry {uri}"
    if (fallback / "config.json").is_file():
        return fallback, f"model directory {fallback} (no registered {alias})"
    raise MissingInputError(f"no {what}: no registered {alias} and no {fallback}/config.json;"
                            f" {hint + ' or ' if hint else ''}pass --model DIR")
