"""Cross-run comparison tables from MLflow (paper Tables 1, 5, 2, 4 and 7), as markdown and
plots.

Segmentation rows come from `seg_eval` runs (their ``segmentation_scores.json`` artifact:
method averages and the prompt ablation); scalp-condition rows from runs tagged
``table=classifier`` (the CNN of each variant, the classical baseline, the majority class: their
``evaluation.json``, so each macro-F1 comes with its interval and every cell with its support);
alopecia rows from runs tagged ``table=alopecia`` (one run per model kind) and the Table 7
ablation logged by the feature model's run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from scalpvision.errors import BadInputError

log = logging.getLogger(__name__)

SEG_METRICS = (("dice", "Dice"), ("jaccard", "Jaccard"), ("pixel_f1_macro", "pixel F1"))
ALO_METRICS = (("accuracy", "accuracy"), ("weighted_f1", "weighted F1"),
               ("macro_f1", "macro F1"))


@dataclass
class Comparison:
    table1: pd.DataFrame = field(default_factory=pd.DataFrame)   # run x method x metric
    table5: pd.DataFrame = field(default_factory=pd.DataFrame)   # prompt ablation
    table4: pd.DataFrame = field(default_factory=pd.DataFrame)   # alopecia models
    table7: pd.DataFrame = field(default_factory=pd.DataFrame)   # feature ablation
    table2: pd.DataFrame = field(default_factory=pd.DataFrame)   # scalp conditions
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)     # the runs used


def _label(row) -> str:
    return f"{row['run_id'][:8]} ({pd.Timestamp(row['start_time']):%m-%d %H:%M})"


def find_runs(run_ids: list[str] | None = None, last: int = 0) -> pd.DataFrame:
    """seg_eval and alopecia-table runs of every experiment (or just ``run_ids``), newest first;
    ``last`` keeps the newest N pipeline runs of each kind."""
    import mlflow

    flt = "attributes.status = 'FINISHED'"
    runs = mlflow.search_runs(search_all_experiments=True, filter_string=flt,
                              order_by=["attributes.start_time DESC"])
    if runs.empty:
        return runs
    for col in ("tags.stage", "tags.table", "tags.model_kind"):
        if col not in runs.columns:
            runs[col] = None
    if run_ids:
        unknown = sorted(set(run_ids) - set(runs.run_id))
        if unknown:
            raise BadInputError(f"run id(s) not found among finished MLflow runs: {unknown}")
        runs = runs[runs.run_id.isin(run_ids)]
    runs = runs[(runs["tags.stage"] == "seg_eval")
                | runs["tags.table"].isin(["alopecia", "classifier"])].copy()
    if last:
        seg = runs[runs["tags.stage"] == "seg_eval"].head(last)
        alo = runs[runs["tags.table"] == "alopecia"]
        keep = alo[alo["tags.model_kind"] == "features_gbm"].head(last)
        # the other model kinds of the same pipeline run share its data hash
        alo = alo[alo["tags.data_hash"].isin(keep["tags.data_hash"])] \
            if "tags.data_hash" in alo.columns else alo.head(0)
        cls = runs[runs["tags.table"] == "classifier"].head(3 * last)
        runs = pd.concat([seg, alo, cls])
    return runs


def _alopecia_groups(runs: pd.DataFrame) -> dict[str, str]:
    """Label each alopecia baseline run with its pipeline run: the latest feature-model run
    that started at or before it on the same feature table (same data hash)."""
    if runs.empty or "tags.table" not in runs.columns:
        return {}
    alo = runs[runs["tags.table"] == "alopecia"].sort_values("start_time")
    out, heads = {}, {}
    for _, r in alo.iterrows():
        key = r.get("tags.data_hash", "")
        if r.get("tags.model_kind") == "features_gbm":
            heads[key] = _label(r)
        out[r.run_id] = heads.get(key, _label(r))
    return out


def build(runs: pd.DataFrame) -> Comparison:
    import mlflow

    out = Comparison(runs=runs)
    t1, t5, t4, t7, t2 = [], [], [], [], []
    group = _alopecia_groups(runs)
    for _, r in runs.iterrows():
        label = group.get(r.run_id) or _label(r)
        if r.get("tags.stage") == "seg_eval":
            try:
                scores = mlflow.artifacts.load_dict(f"runs:/{r.run_id}/segmentation_scores.json")
            except Exception as exc:  # a run without the artifact is reported, not fatal
                log.warning("seg_eval run %s has no segmentation_scores.json (%s)", r.run_id, exc)
                continue
            for key, rows in (("average", t1), ("ablation", t5)):
                for method, m in (scores.get(key) or {}).items():
                    rows.append({"run": label, "refiner": r.get("tags.refiner", ""),
                                 "method": method, **{n: m[k] for k, n in SEG_METRICS}})
        elif r.get("tags.table") == "classifier":
            try:
                ev = mlflow.artifacts.load_dict(f"runs:/{r.run_id}/evaluation.json")
            except Exception as exc:
                log.warning("classifier run %s has no evaluation.json (%s)", r.run_id, exc)
                continue
            lo, hi = ev.get("macro_f1_ci") or (float("nan"), float("nan"))
            t2.append({"run": _label(r), "model": r.get("tags.model_kind", ""),
                       "variant": r.get("tags.variant", "")
                       if r.get("tags.model_kind") == "four_head_cnn" else "-",
                       "backbone": r.get("tags.backbone", "")
                       if r.get("tags.model_kind") == "four_head_cnn" else "",
                       "macro-F1": ev["macro_f1"], "CI low": lo, "CI high": hi,
                       "test images": ev["images"], "subjects": ev["subjects"],
                       **{cell: v["f1"] for cell, v in ev["cells"].items()},
                       **{f"n {cell}": v["support"] for cell, v in ev["cells"].items()}})
        elif r.get("tags.table") == "alopecia":
            t4.append({"run": label, "model": r.get("tags.model_kind", ""),
                       **{n: r.get(f"metrics.{k}") for k, n in ALO_METRICS}})
            if r.get("tags.model_kind") == "features_gbm":
                try:
                    abl = mlflow.load_table("ablation_table7.json", run_ids=[r.run_id])
                except Exception as exc:
                    log.warning("alopecia run %s has no ablation table (%s)", r.run_id, exc)
                    continue
                for k, (_, a) in enumerate(abl.iterrows(), start=1):
                    t7.append({"run": label, "features": a.get("features", ""),
                               "k": k, "accuracy": a["accuracy"],
                               "weighted F1": a["weighted_f1"]})
    out.table1, out.table5, out.table4, out.table7, out.table2 = (
        pd.DataFrame(t) for t in (t1, t5, t4, t7, t2))
    return out


def _md(df: pd.DataFrame) -> str:
    if df.empty:
        return "_no runs_\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(("–" if pd.isna(v) else f"{v:.3f}")
                                       if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _pivot(df: pd.DataFrame, index: str, value: str) -> pd.DataFrame:
    if df.empty:
        return df
    p = df.pivot_table(index=index, columns="run", values=value, aggfunc="first", sort=False)
    return p.reset_index()


def _table2(df: pd.DataFrame) -> str:
    """Paper Table 2 layout: one row per run and model, macro-F1 with its interval, then each
    condition x grade cell's F1 with its support."""
    if df.empty:
        return "_no runs_\n"
    cells = [c for c in df.columns if c.split("_")[0] in ("dandruff", "sebum", "erythema")
             and not c.startswith("n ")]
    lines = ["| run | model | variant | macro-F1 [95 % CI] | " + " | ".join(cells) + " |",
             "|" + "---|" * (4 + len(cells))]
    for _, r in df.iterrows():
        name = r["model"] + (f" ({r['backbone']})" if r["backbone"] else "")
        lines.append(f"| {r['run']} | {name} | {r['variant']} | {r['macro-F1']:.3f} "
                     f"[{r['CI low']:.3f}, {r['CI high']:.3f}] | " + " | ".join(
                         f"{r[c]:.2f} ({int(r['n ' + c])})" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(c: Comparison) -> str:
    parts = ["# ScalpVision run comparison (from MLflow)\n",
             f"{len(c.runs)} run(s): {c.runs['tags.stage'].eq('seg_eval').sum() if not c.runs.empty else 0}"
             " segmentation evaluation(s) and the alopecia model runs.\n",
             "## Table 1 - hair segmentation, Dice by method and run\n",
             _md(_pivot(c.table1, "method", "Dice")),
             "\nAll metrics:\n\n", _md(c.table1),
             "\n## Table 5 - prompt ablation, Dice\n", _md(_pivot(c.table5, "method", "Dice")),
             "\n## Table 2 - scalp conditions, macro-F1 over the 12 cells (gated) with its 95 % "
             "interval (bootstrap over test subjects); per cell F1 (support)\n",
             _table2(c.table2),
             "\n## Table 4 - alopecia severity, weighted F1 by model and run\n",
             _md(_pivot(c.table4, "model", "weighted F1")),
             "\nAll metrics:\n\n", _md(c.table4),
             "\n## Table 7 - feature ablation (features added in order), weighted F1\n",
             _md(_pivot(c.table7, "k", "weighted F1"))]
    return "".join(parts)


def plots(c: Comparison, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    for df, idx, val, name, title in (
            (c.table1, "method", "Dice", "table1_segmentation_dice.png", "Hair segmentation Dice"),
            (c.table4, "model", "weighted F1", "table4_alopecia_wf1.png", "Alopecia weighted F1"),
            (c.table5, "method", "Dice", "table5_prompt_ablation.png", "Prompt ablation Dice")):
        if df.empty:
            continue
        p = df.pivot_table(index=idx, columns="run", values=val, aggfunc="first", sort=False)
        ax = p.plot.barh(figsize=(8, 0.45 * len(p) * max(1, len(p.columns)) + 1.5))
        ax.set_xlabel(val)
        ax.set_xlim(0, 1)
        ax.set_title(title)
        ax.legend(fontsize=7, loc="lower right")
        plt.tight_layout()
        plt.savefig(out / name, dpi=100)
        plt.close()
        made.append(out / name)
    if not c.table2.empty:
        d = c.table2.iloc[::-1]
        labels = [f"{r.model} {r.variant} {r.run}" for r in d.itertuples()]
        fig, ax = plt.subplots(figsize=(8, 0.4 * len(d) + 1.5))
        ax.errorbar(d["macro-F1"], range(len(d)), xerr=[d["macro-F1"] - d["CI low"],
                                                         d["CI high"] - d["macro-F1"]],
                    fmt="o", capsize=3)
        ax.set_yticks(range(len(d)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_xlabel("macro-F1 (12 cells) with 95 % interval")
        ax.set_title("Scalp conditions (Table 2)")
        plt.tight_layout()
        plt.savefig(out / "table2_conditions_macro_f1.png", dpi=100)
        plt.close()
        made.append(out / "table2_conditions_macro_f1.png")
    if not c.table7.empty:
        p = c.table7.pivot_table(index="k", columns="run", values="weighted F1", aggfunc="first")
        ax = p.plot(marker="o", figsize=(7, 4))
        ax.set_xlabel("number of features (paper Table 7 order)")
        ax.set_ylabel("weighted F1")
        ax.set_title("Feature ablation")
        plt.tight_layout()
        plt.savefig(out / "table7_feature_ablation.png", dpi=100)
        plt.close()
        made.append(out / "table7_feature_ablation.png")
    return made


def compare(out: Path, run_ids: list[str] | None = None, last: int = 0) -> tuple[Path, list[Path]]:
    """Write ``compare.md`` and the plots to ``out``; returns their paths."""
    c = build(find_runs(run_ids, last))
    out.mkdir(parents=True, exist_ok=True)
    md = out / "compare.md"
    figs = plots(c, out)
    md.write_text(markdown(c) + "".join(f"\n![{f.stem}]({f.name})\n" for f in figs))
    return md, figs
