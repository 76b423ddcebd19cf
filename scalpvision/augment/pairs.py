"""Augmentation pairs (paper Algorithm 2, Appendix D; reference-method.md §8.6), vectorised.

Each round draws one target triple (dandruff, sebum, erythema) per source from independent
inverse-frequency distributions - recomputed each round on the set grown by the rows drawn so
far, so the sampling flattens - and a target image carrying exactly that triple, never the
source itself. A triple no image carries is drawn again (bounded; a source that cannot be
served is reported, not dropped silently). With ``more_severe`` (the paper's text; its code does
not) a target is never milder than its source in any condition and worse in at least one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalpvision.classification.model import CONDITIONS, GRADES

PAIR_COLUMNS = ("source", "target", "source_label", "target_label", *CONDITIONS, "round")


def inverse_frequency(grades: np.ndarray) -> np.ndarray:
    """``grades: (N, 3)`` -> ``(3, 4)`` weights ∝ 1 / share of each grade (an absent grade
    gets 0), normalised per condition."""
    w = np.zeros((len(CONDITIONS), GRADES))
    for k in range(len(CONDITIONS)):
        p = np.bincount(grades[:, k], minlength=GRADES) / len(grades)
        w[k] = np.where(p > 0, 1.0 / np.where(p > 0, p, 1), 0.0)
        w[k] /= w[k].sum()
    return w


def _label(t) -> str:
    return "".join(str(int(v)) for v in t)


def sample_pairs(rows: pd.DataFrame, sources: pd.DataFrame, n_pairs: int, rounds: int,
                 more_severe: bool, seed: int, max_redraws: int = 50
                 ) -> tuple[pd.DataFrame, list[str]]:
    """``rows``: the candidate targets (``image_id`` + the three grades); ``sources``: the
    images to translate (a subset of ``rows``). Returns the pairs (:data:`PAIR_COLUMNS`) and
    the sources no target could be found for (named)."""
    rng = np.random.default_rng(seed)
    ids = rows.image_id.to_numpy()
    g = rows[list(CONDITIONS)].to_numpy(int)
    code = g @ np.array([16, 4, 1])  # one integer per triple
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    src_g_all = sources[list(CONDITIONS)].to_numpy(int)
    src_ids_all = sources.image_id.to_numpy()
    grown = g.copy()
    per_round = [n_pairs // rounds + (r < n_pairs % rounds) for r in range(rounds)]
    out, unserved = [], set()
    for rnd, k in enumerate(per_round):
        if k == 0:
            continue
        pick = rng.choice(len(sources), size=k, replace=k > len(sources))
        sg, sid = src_g_all[pick], src_ids_all[pick]
        w = inverse_frequency(grown)  # (3, 4)
        trip = np.zeros((k, 3), int)
        todo = np.ones(k, bool)
        target = np.full(k, -1)
        for _ in range(max_redraws):
            n = int(todo.sum())
            if not n:
                break
            for c in range(3):
                p = np.broadcast_to(w[c], (n, GRADES)).copy()
                if more_severe:
                    p *= np.arange(GRADES)[None] >= sg[todo, c][:, None]
                tot = p.sum(1, keepdims=True)
                p = np.where(tot > 0, p / np.where(tot > 0, tot, 1), 1.0 / GRADES)
                u = rng.uniform(size=(n, 1))
                trip[todo, c] = np.minimum((np.cumsum(p, 1) < u).sum(1), GRADES - 1)
            same = (trip[todo] == sg[todo]).all(1)  # identical labels: skipped by the paper
            tc = trip[todo] @ np.array([16, 4, 1])
            lo = np.searchsorted(sorted_code, tc, "left")
            hi = np.searchsorted(sorted_code, tc, "right")
            cnt = hi - lo
            # a uniform image of the triple, not the source: draw among cnt, skip the source
            sidx = np.flatnonzero(todo)
            pos = lo + (rng.uniform(size=n) * cnt).astype(int)
            cand = np.where(cnt > 0, order[np.minimum(pos, len(order) - 1)], -1)
            is_self = (cand >= 0) & (ids[np.maximum(cand, 0)] == sid[todo])
            alt = lo + ((pos - lo + 1 + (rng.uniform(size=n) * np.maximum(cnt - 1, 1)).astype(int))
                        % np.maximum(cnt, 1))
            cand = np.where(is_self & (cnt > 1), order[np.minimum(alt, len(order) - 1)], cand)
            ok = (cand >= 0) & ~same & ~(is_self & (cnt <= 1))
            target[sidx[ok]] = cand[ok]
            todo[sidx[ok]] = False
            if more_severe:  # a source already at (3, 3, 3) can go nowhere
                stuck = (sg[todo] == GRADES - 1).all(1)
                if stuck.any():
                    unserved.update(sid[todo][stuck])
                    idx_t = np.flatnonzero(todo)[stuck]
                    todo[idx_t] = False
        unserved.update(sid[todo])
        done = target >= 0
        tg = trip[done]
        grown = np.concatenate([grown, tg])
        out.append(pd.DataFrame({
            "source": sid[done], "target": ids[target[done]],
            "source_label": [_label(t) for t in sg[done]],
            "target_label": [_label(t) for t in tg],
            **{c: tg[:, j] for j, c in enumerate(CONDITIONS)}, "round": rnd}))
    pairs = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=PAIR_COLUMNS)
    return pairs[list(PAIR_COLUMNS)], sorted(unserved)
