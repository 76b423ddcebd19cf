"""MLflow, the one run log: every stage logs params, metrics, artifacts, git revision and the
DVC hashes of its inputs through :func:`stage_run`.

Tracking URI, in order: ``MLFLOW_TRACKING_URI`` in the environment, ``tracking.uri`` in params,
else an embedded sqlite store ``sqlite:///<repo>/mlflow.db`` with artifacts in
``<repo>/mlartifacts`` (MLflow 3's file store is off; see stack-notes.md).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scalpvision.config import TrackingParams, yaml_load

log = logging.getLogger(__name__)

QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1",
    "BENTOML_DO_NOT_TRACK": "true", "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}


def quiet_environment() -> None:
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)


def repo_root(start: str | Path = ".") -> Path:
    """The enclosing git/DVC repository root (or ``start`` itself when there is none)."""
    p = Path(start).resolve()
    for cand in (p, *p.parents):
        if (cand / "dvc.yaml").is_file() or (cand / ".git").exists():
            return cand
    return p


def tracking_uri(params: TrackingParams, root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or params.uri or f"sqlite:///{root / 'mlflow.db'}"


def git_revision(root: Path) -> tuple[str, bool]:
    """(commit sha or "unknown", whether the work tree has uncommitted changes)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    cwd=root, capture_output=True, text=True).stdout.strip())
        return sha, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def content_hash(path: Path) -> str:
    """md5 of a file, or of the sorted (relative path, md5) list of a folder's files."""
    if path.is_file():
        return hashlib.md5(path.read_bytes()).hexdigest()
    h = hashlib.md5()
    for f in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(f"{f.relative_to(path).as_posix()}:{hashlib.md5(f.read_bytes()).hexdigest()}\n"
                 .encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=4)
def _locked_outs(lock: Path, mtime_ns: int) -> dict[str, str]:
    """out path -> hash from ``dvc.lock`` (parsed once per version of the file)."""
    data = yaml_load(lock.read_text()) or {}
    return {out["path"]: out.get("md5") or out.get("hash", "")
            for stage in (data.get("stages") or {}).values()
            for out in stage.get("outs", []) or []}


def dvc_input_hashes(deps: list[str], root: Path) -> dict[str, str]:
    """DVC hash of each input as recorded in ``dvc.lock`` by the stage that made it; inputs
    no stage has locked yet get our own content hash (marked ``computed:``)."""
    lock = root / "dvc.lock"
    locked = _locked_outs(lock.resolve(), lock.stat().st_mtime_ns) if lock.is_file() else {}
    out = {}
    for d in deps:
        p = root / d
        if d in locked:
            out[d] = locked[d]
        elif p.exists():
            out[d] = "computed:" + content_hash(p)
    return out


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v if not isinstance(v, (list, tuple)) else ",".join(map(str, v))
    return out


def setup_mlflow(params: TrackingParams, root: Path | None = None) -> str:
    """Point MLflow at the configured store and experiment; returns the experiment id."""
    import mlflow

    quiet_environment()
    root = root or repo_root()
    uri = tracking_uri(params, root)
    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name(params.experiment)
    if exp is not None:
        mlflow.set_experiment(params.experiment)
        return exp.experiment_id
    kwargs = {}
    if uri.startswith("sqlite:"):
        art = root / params.artifact_dir
        art.mkdir(parents=True, exist_ok=True)
        kwargs["artifact_location"] = art.resolve().as_uri()
    exp_id = mlflow.create_experiment(params.experiment, **kwargs)
    mlflow.set_experiment(params.experiment)
    return exp_id


@contextlib.contextmanager
def stage_run(stage: str, params: dict[str, Any], tracking: TrackingParams,
              deps: list[str] | tuple[str, ...] = (), tags: dict[str, str] | None = None
              ) -> Iterator[Any]:
    """Open an MLflow run for one pipeline stage with params, git and input-hash tags."""
    import mlflow

    root = repo_root()
    setup_mlflow(tracking, root)
    sha, dirty = git_revision(root)
    all_tags = {"stage": stage, "git.commit": sha, "git.dirty": str(dirty),
                "mlflow.source.git.commit": sha, **(tags or {})}
    for path, h in dvc_input_hashes(list(deps), root).items():
        all_tags[f"dvc.input.{path}"] = h
    with mlflow.start_run(run_name=stage, tags=all_tags) as run:
        flat = flatten(params)
        for i in range(0, len(flat), 90):  # MLflow caps a batch at 100 params
            mlflow.log_params(dict(list(flat.items())[i:i + 90]))
        yield run
