"""The classifier's result tables (paper Table 2 layout) and confusion plots, from
:func:`~scalpvision.classification.metrics.evaluate` results - one implementation for the
pipeline stage, ``scalpvision compare`` and the benchmark."""

from __future__ import annotations

from pathlib import Path

from scalpvision.classification.model import CONDITIONS, GRADES


def _ci(value: float, ci) -> str:
    return f"{value:.3f}" if not ci else f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def summary_markdown(rows: dict[str, dict]) -> str:
    """One row per model: macro-F1 gated (headline) and ungated with 95 % intervals, QWK,
    within-one-grade accuracy, presence AUC and ECE per condition."""
    per = lambda r, key: " / ".join(f"{r[c][key]:.2f}" for c in CONDITIONS)  # noqa: E731
    lines = ["| model | macro-F1 (gated) [95 % CI] | macro-F1 (no gate) [95 % CI] | "
             "QWK d / s / e | within-one d / s / e | presence AUC d / s / e | ECE d / s / e |",
             "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {_ci(r['macro_f1'], r.get('macro_f1_ci'))} | "
                     f"{_ci(r['macro_f1_ungated'], r.get('macro_f1_ungated_ci'))} | "
                     f"{per(r, 'qwk')} | {per(r, 'within_one')} | {per(r, 'presence_auc')} | "
                     f"{per(r, 'ece')} |")
    return "\n".join(lines) + "\n"


def cells_markdown(rows: dict[str, dict]) -> str:
    """Paper Table 2: each condition x grade cell's F1, with its support."""
    cells = [f"{c}_{g}" for c in CONDITIONS for g in range(GRADES)]
    lines = ["| model | " + " | ".join(cells) + " |", "|---|" + "---|" * len(cells)]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{r['cells'][k]['f1']:.2f} ({r['cells'][k]['support']})" for k in cells) + " |")
    return "\n".join(lines) + "\n"


def cell_rows(r: dict) -> list[dict]:
    """The per-cell table as rows (for ``mlflow.log_table``)."""
    return [{"condition": c, "grade": g, "f1": r["cells"][f"{c}_{g}"]["f1"],
             "support": r["cells"][f"{c}_{g}"]["support"]}
            for c in CONDITIONS for g in range(GRADES)]


def confusion_figure(r: dict, title: str, path: Path) -> Path:
    """The three per-condition confusion matrices (true grade x predicted grade) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    for ax, c in zip(axes, CONDITIONS):
        m = np.asarray(r[c]["confusion"])
        ax.imshow(m, cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, str(v), ha="center", va="center",
                    color="white" if v > m.max() / 2 else "black", fontsize=9)
        ax.set_title(f"{c} (QWK {r[c]['qwk']:.2f})", fontsize=10)
        ax.set_xlabel("predicted grade")
        ax.set_ylabel("true grade")
        ax.set_xticks(range(GRADES))
        ax.set_yticks(range(GRADES))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
