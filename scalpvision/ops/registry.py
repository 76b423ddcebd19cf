"""Registering a model of any kind: log it through its kind to the active MLflow run, register
the version, and tag it with its metrics, its kind and its provenance."""

from __future__ import annotations

import logging
from typing import Any

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
