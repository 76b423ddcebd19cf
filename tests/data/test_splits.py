import numpy as np
import pandas as pd
import pytest

from scalpvision.data.splits import grouped_stratified_split

FR = {"train": 0.7, "val": 0.15, "test": 0.15}


def _frame(n_groups=200, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        grade = rng.choice(4, p=[0.7, 0.18, 0.09, 0.03])
        for _ in range(rng.integers(1, 8)):
            rows.append({"group": f"g{g}", "dandruff": rng.integers(0, 4), "sebum": rng.integers(0, 4),
                         "erythema": rng.integers(0, 4), "alopecia": grade})
    return pd.DataFrame(rows)


def test_no_group_in_two_splits_and_deterministic():
    df = _frame()
    s = grouped_stratified_split(df, FR, seed=3)
    assert (df.assign(split=s).groupby("group")["split"].nunique() == 1).all()
    assert s.equals(grouped_stratified_split(df, FR, seed=3))
    assert not s.equals(grouped_stratified_split(df, FR, seed=4))


def test_sizes_follow_fractions_and_rare_grades_reach_every_split():
    df = _frame(400)
    s = grouped_stratified_split(df, FR, seed=1)
    share = s.value_counts(normalize=True)
    for k, v in FR.items():
        assert abs(share[k] - v) < 0.05
    for split in FR:
        assert set(df.loc[s == split, "alopecia"]) == {0, 1, 2, 3}


def test_bad_fractions_raise():
    with pytest.raises(ValueError, match="sum to 1"):
        grouped_stratified_split(_frame(5), {"train": 0.9, "test": 0.3}, seed=0)


def test_subject_subset_keeps_whole_subjects_and_each_splits_share():
    import pandas as pd

    from scalpvision.data.splits import subject_subset

    rows = pd.DataFrame({"group": [f"g{i // 5}" for i in range(1000)],
                         "split": ["train"] * 700 + ["val"] * 150 + ["test"] * 150})
    sub = subject_subset(rows, 200, seed=0)
    assert len(sub) <= 200 + 3 * 5 and len(sub) >= 200 - 3 * 5
    assert sub.groupby("group").size().eq(5).all()       # whole subjects only
    share = sub.split.value_counts(normalize=True)
    assert abs(share["train"] - 0.7) < 0.05 and abs(share["test"] - 0.15) < 0.05
    assert subject_subset(rows, 0, seed=0) is rows
    assert subject_subset(rows, 200, seed=0).equals(sub)  # seeded
    assert not subject_subset(rows, 200, seed=1).equals(sub)
