"""Rebuild scalpvision/data/resources/aihub_joint_counts.csv from the real AI-Hub label tables.

Usage: python scripts/make_label_prior.py ../shared/data/aihub-labels/*_label.csv.gz
The resource holds only counts of each distinct (value_1..value_6) tuple over all splits,
de-duplicated by file name, so the renderer reproduces the real joint label frequencies.
"""

import sys
from pathlib import Path

import pandas as pd

frames = [pd.read_csv(p) for p in sys.argv[1:]]
df = pd.concat(frames).drop_duplicates("img_name")
cols = [f"value_{i}" for i in range(1, 7)]
counts = df.groupby(cols).size().rename("count").reset_index().sort_values(cols)
out = Path(__file__).resolve().parents[1] / "scalpvision/data/resources/aihub_joint_counts.csv"
counts.to_csv(out, index=False)
print(f"{len(df)} unique images, {len(counts)} distinct label tuples -> {out}")
