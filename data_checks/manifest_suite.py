"""The manifest suite: schema, value ranges, unique ids and hashes, no image and no subject in
two splits, grades present per split where the data allows, image size and mode.

Leakage is checked on derived columns (how many splits each file name / subject appears in),
so that GX reports the offending rows. Runs on an image manifest (from the AI-Hub tree) or on
flat label tables (no file columns).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

VALUES = [f"value_{i}" for i in range(1, 7)]
TARGETS = ["dandruff", "sebum", "erythema", "alopecia"]
SPLITS = ["train", "val", "test"]
LABEL_COLUMNS = ["image_id", "image_file_name", *VALUES, *TARGETS, "group", "split"]
FILE_COLUMNS = ["path", "sha256", "width", "height", "mode"]


@dataclass
class CheckOutcome:
    success: bool
    results: list[dict] = field(default_factory=list)  # one per expectation
    rows: int = 0

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.results if not r["success"]]


def add_leakage_columns(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["image_split_count"] = out.groupby("image_file_name")["split"].transform("nunique")
    out["group_split_count"] = out.groupby("group")["split"].transform("nunique")
    return out


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def build_expectations(df: pd.DataFrame, width: int, height: int) -> list:
    import great_expectations.expectations as gxe

    has_files = all(c in df.columns for c in FILE_COLUMNS)
    cols = LABEL_COLUMNS + (FILE_COLUMNS if has_files else [])
    ex = [gxe.ExpectTableColumnsToMatchSet(column_set=cols, exact_match=False),
          gxe.ExpectTableRowCountToBeBetween(min_value=1)]
    for c in VALUES + TARGETS:
        ex += [gxe.ExpectColumnValuesToNotBeNull(column=c),
               gxe.ExpectColumnValuesToBeInSet(column=c, value_set=[0, 1, 2, 3])]
    ex += [gxe.ExpectColumnValuesToBeInSet(column="split", value_set=SPLITS),
           gxe.ExpectColumnValuesToNotBeNull(column="group"),
           gxe.ExpectColumnValuesToBeUnique(column="image_file_name"),
           gxe.ExpectColumnValuesToBeInSet(column="image_split_count", value_set=[1]),
           gxe.ExpectColumnValuesToBeInSet(column="group_split_count", value_set=[1])]
    if has_files:
        ex += [gxe.ExpectColumnValuesToBeUnique(column="sha256"),
               gxe.ExpectColumnValuesToMatchRegex(column="sha256", regex=r"^[0-9a-f]{64}$"),
               gxe.ExpectColumnValuesToBeInSet(column="width", value_set=[width]),
               gxe.ExpectColumnValuesToBeInSet(column="height", value_set=[height]),
               gxe.ExpectColumnValuesToBeInSet(column="mode", value_set=["RGB"])]
        if "file_ok" in df.columns:
            ex.append(gxe.ExpectColumnValuesToBeInSet(column="file_ok", value_set=[True]))
    return ex


def grade_presence_expectations(df: pd.DataFrame, min_per_grade: int) -> dict[str, list]:
    """Per split: every grade of every target that enough *subjects* hold (a subject sits in one
    split, so ``n_splits * min_per_grade`` of them) must appear in that split."""
    import great_expectations.expectations as gxe

    n_splits = df["split"].nunique()
    per_split: dict[str, list] = {}
    for split in sorted(df["split"].dropna().unique()):
        ex = []
        for t in TARGETS:
            counts = df.groupby(t)["group"].nunique()
            allowed = sorted(int(g) for g, n in counts.items() if n >= n_splits * min_per_grade)
            if allowed:
                ex.append(gxe.ExpectColumnDistinctValuesToContainSet(column=t, value_set=allowed))
        per_split[str(split)] = ex
    return per_split


def _run(ctx, name: str, df: pd.DataFrame, expectations: list) -> list[dict]:
    import great_expectations as gx

    bd = (ctx.data_sources.add_pandas(name=f"src_{name}")
          .add_dataframe_asset(name=f"asset_{name}")
          .add_batch_definition_whole_dataframe("whole"))
    suite = ctx.suites.add(gx.ExpectationSuite(name=f"suite_{name}"))
    for e in expectations:
        suite.add_expectation(e)
    res = bd.get_batch(batch_parameters={"dataframe": df}).validate(
        suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 8})
    out = []
    for r in res.results:
        cfg = r.expectation_config
        kw = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
        result = r.result or {}
        out.append({
            "scope": name, "expectation": cfg.type, "column": kw.get("column", ""),
            "kwargs": {k: v for k, v in kw.items() if k != "column"},
            "success": bool(r.success),
            "unexpected_count": result.get("unexpected_count"),
            "unexpected_percent": result.get("unexpected_percent"),
            "partial_unexpected": [str(x) for x in (result.get("partial_unexpected_list") or [])],
            "observed": str(result.get("observed_value", ""))[:200],
        })
    return out


def verify_files(df: pd.DataFrame) -> pd.Series:
    """True where the file exists, still has the recorded sha256, and decodes as RGB."""
    from scalpvision.data.aihub import inspect_image
    from scalpvision.io import sha256_file

    ok = []
    for path, sha, w, h in df[["path", "sha256", "width", "height"]].itertuples(index=False):
        p = Path(path)
        try:
            good = p.is_file() and sha256_file(p) == sha
            good = good and inspect_image(p, (int(w), int(h)))["mode"] == "RGB"
        except ValueError:
            good = False
        ok.append(bool(good))
    return pd.Series(ok, index=df.index)


def run_manifest_checks(df: pd.DataFrame, width: int = 640, height: int = 480,
                        min_per_grade: int = 1, check_files: bool = True) -> CheckOutcome:
    """Validate a manifest DataFrame; returns every expectation's result."""
    data = add_leakage_columns(df)
    if check_files and "path" in data.columns:
        data["file_ok"] = verify_files(data)
    ctx = _context()
    results = _run(ctx, "manifest", data, build_expectations(data, width, height))
    for split, ex in grade_presence_expectations(data, min_per_grade).items():
        if ex:
            results += _run(ctx, f"split_{split}", data[data["split"] == split], ex)
    return CheckOutcome(all(r["success"] for r in results), results, len(df))


def leakage_summary(df: pd.DataFrame) -> dict[str, int]:
    """Plain counts behind the leakage expectations (for reports and the README)."""
    d = add_leakage_columns(df)
    multi = d[d["image_split_count"] > 1]
    pairs = multi.groupby("image_file_name")["split"].agg(lambda s: "∩".join(sorted(set(s))))
    return {
        "rows": len(d), "file_names_in_several_splits": int(multi["image_file_name"].nunique()),
        "rows_involved": len(multi),
        **{f"names_{k}": int(v) for k, v in pairs.value_counts().items()},
        "groups_in_several_splits": int(d.loc[d["group_split_count"] > 1, "group"].nunique()),
        "groups": int(d["group"].nunique()),
    }
