"""Champion promotion in the MLflow model registry.

A candidate version takes the ``champion`` alias only when it beats the current champion on the
same frozen test set: both versions carry an ``eval_manifest_hash`` tag (the hash of the rows
they were scored on) and the chosen ``metric.<name>`` tag. When the champion was scored on a
different test set, the caller's evaluator re-scores it on the candidate's set first; with no
evaluator the candidate is not promoted (an unfair comparison is never made). A model with no
champion yet takes its first candidate.

Every decision - promoted or kept - is appended to an audit file (JSON lines, DVC-tracked) and
written as tags on the candidate version and on the registered model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from scalpvision.errors import BadInputError

log = logging.getLogger(__name__)

MANIFEST_TAG = "eval_manifest_hash"

# (model name, version) -> {metric name: value} on the candidate's frozen test set
Evaluator = Callable[[str, str], dict[str, float]]


def manifest_hash(rows: pd.DataFrame, columns: list[str]) -> str:
    """Order-free hash of the evaluation rows (the frozen test manifest) over ``columns``."""
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise BadInputError(f"evaluation rows lack column(s) {missing}; have {list(rows.columns)}")
    lines = sorted(rows[columns].astype(str).agg("\t".join, axis=1))
    return hashlib.sha256("\n".join([",".join(columns), *lines]).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Decision:
    time: str
    model: str
    candidate_version: str
    from_version: str | None   # champion before the decision
    to_version: str | None     # champion after the decision
    promoted: bool
    metric: str
    candidate_value: float | None
    champion_value: float | None
    margin: float
    higher_is_better: bool
    manifest_hash: str
    reason: str


def _metric_tag(version, metric: str) -> float | None:
    v = version.tags.get(f"metric.{metric}")
    return float(v) if v not in (None, "") else None


def decide(client, name: str, candidate: str, metric: str, margin: float = 0.0,
           higher_is_better: bool = True, alias: str = "champion",
           evaluator: Evaluator | None = None) -> Decision:
    """Compare ``candidate`` with the ``alias`` holder of ``name`` (no registry writes)."""
    from mlflow.exceptions import MlflowException

    cand = client.get_model_version(name, candidate)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    c_val, c_hash = _metric_tag(cand, metric), cand.tags.get(MANIFEST_TAG, "")
    if c_val is None:
        raise BadInputError(f"model {name} version {candidate} has no tag metric.{metric}; "
                         f"tags: {sorted(cand.tags)}")
    try:
        champ = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        champ = None
    base = dict(time=now, model=name, candidate_version=str(candidate), metric=metric,
                candidate_value=c_val, margin=margin, higher_is_better=higher_is_better,
                manifest_hash=c_hash)
    if champ is None:
        return Decision(**base, from_version=None, to_version=str(candidate), promoted=True,
                        champion_value=None, reason=f"no {alias} yet: the first candidate takes it")
    champ_v = str(champ.version)
    if champ_v == str(candidate):
        return Decision(**base, from_version=champ_v, to_version=champ_v, promoted=False,
                        champion_value=c_val, reason=f"candidate already holds {alias}")
    h_val = _metric_tag(champ, metric)
    if champ.tags.get(MANIFEST_TAG, "") != c_hash or h_val is None:
        if evaluator is None:
            return Decision(**base, from_version=champ_v, to_version=champ_v, promoted=False,
                            champion_value=None,
                            reason=f"{alias} v{champ_v} was scored on another test set "
                                   f"({champ.tags.get(MANIFEST_TAG, 'none')}) and no evaluator "
                                   "was given: not comparable, kept")
        h_val = float(evaluator(name, champ_v)[metric])
        log.info("re-scored %s v%s on test set %s: %s=%.4f", name, champ_v, c_hash, metric, h_val)
    gain = (c_val - h_val) if higher_is_better else (h_val - c_val)
    if gain > margin:
        return Decision(**base, from_version=champ_v, to_version=str(candidate), promoted=True,
                        champion_value=h_val,
                        reason=f"{metric} {c_val:.4f} beats {h_val:.4f} by {gain:.4f} > {margin}")
    return Decision(**base, from_version=champ_v, to_version=champ_v, promoted=False,
                    champion_value=h_val,
                    reason=f"{metric} {c_val:.4f} vs {alias} {h_val:.4f}: gain {gain:.4f} "
                           f"not above margin {margin}")


def apply(client, d: Decision, audit_file: Path, alias: str = "champion") -> None:
    """Move the alias when ``d.promoted``; record the decision in tags and the audit file."""
    if d.promoted:
        client.set_registered_model_alias(d.model, alias, d.to_version)
    prefix = "promotion"
    for k, v in {"decision": "promoted" if d.promoted else "kept", "time": d.time,
                 "from_version": d.from_version or "", "reason": d.reason,
                 "champion_value": "" if d.champion_value is None else f"{d.champion_value:.5f}",
                 }.items():
        client.set_model_version_tag(d.model, d.candidate_version, f"{prefix}.{k}", v)
    if d.promoted:
        client.set_registered_model_tag(
            d.model, f"{prefix}.last", f"{d.time} v{d.from_version or '-'} -> v{d.to_version} "
                                       f"({d.metric} {d.candidate_value:.4f})")
    audit_file.parent.mkdir(parents=True, exist_ok=True)
    with audit_file.open("a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")


def read_audit(audit_file: Path) -> list[dict]:
    if not audit_file.is_file():
        return []
    return [json.loads(line) for line in audit_file.read_text(encoding="utf-8").splitlines()
            if line.strip()]
