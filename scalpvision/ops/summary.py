"""The closing summary of a pipeline run: the metrics DVC tracks and where to look."""

from __future__ import annotations

import json
from pathlib import Path

WHERE = [
    ("MLflow UI", ".venv/bin/scalpvision ui   # then open http://127.0.0.1:5000"),
    ("Data-check report", "reports/data_checks/index.html"),
    ("Rendered images", "reports/render/contact_sheet.jpg, data/aihub/"),
    ("Manifest", "data/manifest.csv (quarantine: data/interim/quarantine.csv)"),
    ("Segmentation", "reports/segmentation/table.md, overlays_test.jpg, "
                     "overlays_unlabelled_real.jpg"),
    ("Hair masks", "data/hair_masks/ (M of every image)"),
    ("Hair features", "reports/features/accuracy.md; table in data/features/features.csv"),
    ("Alopecia", "reports/alopecia/table.md (GBM, baselines, Table 7 ablation); models/alopecia/"),
    ("Scalp conditions", "reports/classifier/table.md (CNN vs classical GBM vs majority, Table 2 "
                         "with 95 % intervals; real-frame AUC); models/classifier/"),
    ("Scalp gate", "reports/scalp_gate/table.md (both error rates, per kind); models/scalp_gate/"),
    ("Augmentation", "reports/augment/table.md + contact_sheet.jpg (DiffuseIT-M vs baselines); "
                     "data/augment/sets/<method>/ (images + manifest.csv)"),
    ("Augmented classifier", "reports/classifier_augmented/table.md (does augmentation help? "
                             "Table 2 with paired intervals)"),
    ("Registry", "MLflow registered models @champion (below); every promotion decision in "
                 "registry/promotions.jsonl"),
    ("Run comparison", "reports/compare/compare.md + plots (.venv/bin/scalpvision compare)"),
    ("Service", "bento in dist/scalpvision.bento; web page at /ui/ once served"),
    ("Load benchmark", ".venv/bin/python benchmarks/load_diagnose.py"),
    ("Segment images", ".venv/bin/scalpvision segment IMAGES --out DIR"),
    ("Grade conditions", ".venv/bin/scalpvision classify IMAGES --out predictions.csv"),
    ("DVC metrics", ".venv/bin/dvc metrics show"),
]


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))[:70]
    return str(v)


def summarize(metrics_dir: Path) -> str:
    lines = ["", "ScalpVision pipeline summary", "=" * 28]
    files = sorted(metrics_dir.glob("*.json")) if metrics_dir.is_dir() else []
    if not files:
        lines.append(f"(no metrics in {metrics_dir}/ - run `dvc repro` first)")
    for f in files:
        data = json.loads(f.read_text())
        lines.append(f"\n[{f.stem}]")
        for k, v in data.items():
            lines.append(f"  {k:<34} {_fmt(v)}")
    lines.append("\nWhere to look:")
    lines += [f"  {k:<18} {v}" for k, v in WHERE]
    pkg = metrics_dir / "package.json"
    if pkg.is_file():
        info = json.loads(pkg.read_text())
        lines += ["", "Served models (by role):"]
        lines += [f"  {role:<10} {m['registered_model']} v{m['registered_version']} "
                  f"@{m['alias']} ({m.get('kind', '?')})" for role, m in info["models"].items()]
        lines += ["", f"Serve the champions ({info['bento']}, exported to {info['export']}):",
                  f"  {info['serve']}",
                  f"  then open http://127.0.0.1:{info['serve'].rsplit(' ', 1)[-1]}/ui/"
                  " or POST an image to /diagnose",
                  f"  on another machine: {info['serve_elsewhere']}"]
    return "\n".join(lines)
