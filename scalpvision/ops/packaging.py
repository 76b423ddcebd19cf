"""Package the served models into a bento: import ``models:/<name>@<alias>`` of every role in
``serve.models`` into the BentoML store, ``bentoml build`` the service in ``serving/``,
``bentoml export`` it to one file.

The real ``bentoml`` command does the build and the export (offline: nothing is downloaded);
the store lives in ``serve.bentoml_home`` (default ``.bentoml/`` in the repository).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from scalpvision.config import ServeParams, yaml_load
from scalpvision.errors import UserError
from scalpvision.ops.kinds import KIND_TAG

log = logging.getLogger(__name__)


def bento_env(home: Path) -> dict[str, str]:
    return {**os.environ, "BENTOML_HOME": str(home.resolve()), "BENTOML_DO_NOT_TRACK": "true"}


def import_champion(name: str, alias: str) -> dict:
    """Import the ``alias`` version of registered model ``name`` into the BentoML store
    (``BENTOML_HOME`` must be set); returns its tag and registry labels."""
    import bentoml
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        v = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise UserError(f"registered model {name!r} has no {alias!r} version "
                        "(run `dvc repro promote` first)") from exc
    if not v.tags.get(KIND_TAG):
        raise UserError(f"{name} v{v.version} has no {KIND_TAG!r} tag: register it through "
                        "scalpvision.ops.registry.register so the service knows its kind")
    labels = {"registered_model": name, "registered_version": str(v.version), "alias": alias,
              "run_id": v.run_id or "", "kind": v.tags[KIND_TAG]}
    metrics = {k: float(val) for k, val in v.tags.items() if k.startswith("metric.")}
    try:
        stored = bentoml.models.list(name)
    except bentoml.exceptions.NotFound:
        stored = []
    if stored:  # the newest stored one is this version already: `latest` resolves to it
        newest = max(stored, key=lambda m: m.info.creation_time)
        if {k: newest.info.labels.get(k) for k in labels} == labels:
            return {"tag": str(newest.tag), **labels}
    m = bentoml.mlflow.import_model(name, model_uri=f"models:/{name}/{v.version}",
                                    labels=labels, metadata=metrics)
    return {"tag": str(m.tag), **labels}


PACKAGED_PARAMS = "build/bento/params.yaml"  # the parameters the bento was built with
BENTOFILE = "serving/bentofile.yaml"  # python.packages: names; versions come from constraints
BUILT_BENTOFILE = "build/bento/bentofile.yaml"


def pinned_bentofile(root: Path) -> Path:
    """``serving/bentofile.yaml`` with every ``python.packages`` name pinned from the one pin
    file (``constraints.txt``, via :func:`scalpvision.ops.kinds.pins`); returns its path."""
    import yaml

    from scalpvision.ops.kinds import pins

    spec = yaml_load((root / BENTOFILE).read_text())
    names = [p.split("==")[0] for p in spec["python"]["packages"]]
    spec["python"]["packages"] = pins(names)
    out = root / BUILT_BENTOFILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def package(params, root: Path, bentoml_bin: str | None = None) -> dict:
    """Import the model of every role, build and export the bento; returns what was built.
    ``params``: the loaded parameters; their resolved mapping goes into the bento as
    :data:`PACKAGED_PARAMS`, so the service serves the roles it was packaged with."""
    import yaml

    from scalpvision.config import resolved_dict

    p: ServeParams = params.serve
    data, _ = resolved_dict(params.source, params.profile)
    (root / PACKAGED_PARAMS).parent.mkdir(parents=True, exist_ok=True)
    (root / PACKAGED_PARAMS).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    home = (root / p.bentoml_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(bento_env(home))
    models = {m.role: import_champion(m.registered_name, m.alias) for m in p.models}
    exe = bentoml_bin or str(Path(sys.executable).with_name("bentoml"))
    env = bento_env(home)
    bentofile = pinned_bentofile(root)
    build = subprocess.run([exe, "build", "-f", str(bentofile), "--output", "tag", "."],
                           cwd=root, env=env, capture_output=True, text=True)
    if build.returncode != 0:
        raise RuntimeError(f"bentoml build failed:\n{build.stdout}\n{build.stderr}")
    found = re.findall(r"__tag__:(\S+)", build.stdout) or re.findall(
        r"Bento\(tag=\"([^\"]+)\"\)", build.stdout + build.stderr)
    if not found:
        raise RuntimeError(f"bentoml build: no bento tag in its output:\n{build.stdout}")
    tag = found[-1]
    out = (root / p.export_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    exp = subprocess.run([exe, "export", tag, str(out)], cwd=root, env=env,
                         capture_output=True, text=True)
    if exp.returncode != 0:
        raise RuntimeError(f"bentoml export failed:\n{exp.stdout}\n{exp.stderr}")
    info = {"bento": tag, "export": str(out.relative_to(root) if out.is_relative_to(root)
                                        else out),
            "bytes": out.stat().st_size, "bentoml_home": str(home), "models": models,
            "serve": f"BENTOML_HOME={home} {exe} serve {tag} --host 127.0.0.1 --port {p.port}",
            "serve_elsewhere": f"bentoml import {out.name} && bentoml serve {tag}"}
    log.info("built %s -> %s", tag, out)
    return info


def write_info(info: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=1))
