"""Deterministic train/val/test splits, grouped by subject and stratified by the targets.

No subject (code + device serial) is ever in two splits, which fixes the leak of the authors'
split (reference-method.md §1.3, §12.14). Stratification is iterative (Sechidis et al., 2011,
applied to groups): the groups holding the rarest (target, grade) cells are placed first, each
into the split whose quota for those cells is least filled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalpvision.data.layout import TARGET_COLUMNS
from scalpvision.errors import BadInputError


def grouped_stratified_split(df: pd.DataFrame, fractions: dict[str, float], seed: int,
                             group_col: str = "group",
                             strata: tuple[str, ...] = TARGET_COLUMNS) -> pd.Series:
    """Assign every row a split name. Returns a Series aligned with ``df.index``.

    ``fractions`` maps split names to shares (summing to 1). Rows of one group share a split.
    """
    names = list(fractions)
    share = np.array([fractions[n] for n in names], float)
    if np.any(share < 0) or not np.isclose(share.sum(), 1.0):
        raise BadInputError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    if df.empty:
        return pd.Series([], index=df.index, dtype=object)
    onehot = pd.get_dummies(df[list(strata)].astype(str), prefix=list(strata)).astype(float)
    onehot["_rows"] = 1.0  # also balance the plain image count
    per_group = onehot.groupby(df[group_col].to_numpy()).sum()  # (G, cells)
    totals = per_group.sum(0).to_numpy()
    rng = np.random.default_rng(seed)
    groups = per_group.index.to_numpy()
    counts = per_group.to_numpy()
    # rarest cell each group touches: groups with rare grades go first; ties in seeded order
    rarity = np.where(counts > 0, totals[None], np.inf).min(1)
    order = np.lexsort((rng.permutation(len(groups)), rarity))
    need = share[:, None] * totals[None]  # (S, cells) still wanted
    assigned: dict[object, str] = {}
    for gi in order:
        c = counts[gi]
        cells = c > 0
        # how under-filled each split is on this group's cells, relative to its quota
        fill = (need[:, cells] / np.maximum(share[:, None] * totals[None, cells], 1e-9)).mean(1)
        fill = np.where(share > 0, fill, -np.inf)
        best = int(np.argmax(fill + 1e-6 * share))
        need[best] -= c
        assigned[groups[gi]] = names[best]
    return df[group_col].map(assigned).rename("split")


def subject_subset(rows: pd.DataFrame, max_images: int, seed: int) -> pd.DataFrame:
    """At most ``max_images`` rows of whole subjects (``group``), each split keeping its share:
    subjects are taken in a seeded order until the split's quota is reached (0 = all rows).
    For stages whose per-image cost is high (segmentation) on a data set sized for another."""
    if not max_images or len(rows) <= max_images:
        return rows
    rng = np.random.default_rng(seed)
    keep = []
    for split, part in rows.groupby("split", sort=True):
        quota = round(max_images * len(part) / len(rows))
        groups = part.group.unique()
        sizes = part.group.value_counts()
        n = 0
        for grp in rng.permutation(groups):
            if n >= quota:
                break
            keep.append(grp)
            n += sizes[grp]
    return rows[rows.group.isin(keep)]
