"""``docs/results.md`` and the README's headline table, generated from a pipeline run's
``metrics/*.json`` and ``reports/*`` - never typed by hand. ``scalpvision results`` writes them
(the demo does at its end); commit them with the ``dvc.lock`` of the run they describe."""

from __future__ import annotations

import json
import re
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _json(root: Path, name: str) -> dict:
    p = root / "metrics" / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def _section(root: Path, rel: str, title: str) -> list[str]:
    p = root / rel
    if not p.is_file():
        return [f"## {title}", "", f"(no `{rel}`: run `dvc repro` first)", ""]
    body = re.sub(r"^### ", "### ", p.read_text().strip(), flags=re.M)
    return [f"## {title}", "", f"From `{rel}`.", "", body, ""]


def headline(root: Path) -> str:
    """The short results table the README shows."""
    seg, alo, feat = _json(root, "segmentation"), _json(root, "alopecia"), _json(root, "features")
    hm = _json(root, "hair_masks")
    cls, gate = _json(root, "classifier"), _json(root, "scalp_gate")
    aug, caug = _json(root, "augment"), _json(root, "classifier_augmented")
    gen = _json(root, "generality")

    def worst(source: str, key: str) -> str:
        vals = {k.split(" / ")[0]: v[key] for k, v in gen.items() if k.endswith(source)}
        if not vals:
            return "-"
        name = max(vals, key=lambda k: abs(vals[k]))
        return f"{vals[name]:.1%} ({name})" if "count" in key else f"{vals[name]:+.2f} px ({name})"

    def ci(d: dict, k: str) -> str:
        if k not in d:
            return "-"
        lo, hi = d.get(f"{k}_ci", (float("nan"),) * 2)
        return f"{d[k]:.3f} [{lo:.3f}, {hi:.3f}]"

    def f(d: dict, k: str, fmt: str = "{:.3f}") -> str:
        return fmt.format(d[k]) if k in d and isinstance(d[k], (int, float)) else "-"

    rows = [
        ("Hair segmentation, Dice of M (built-in test split)", f(seg, "ensemble (M).dice"),
         f"U²-Net M̂ {f(seg, 'u2net (M̂).dice')}, black-hat baseline "
         f"{f(seg, 'baseline: yue_morphology.dice')}; {seg.get('images', '-')} images"),
        ("Hair count, relative error on M (test)", f(feat, "test_M.count_rel_error", "{:.1%}"),
         f"on ground-truth masks {f(feat, 'test_gt_mask.count_rel_error', '{:.1%}')}"),
        ("Hair width, per-hair mean, bias on M / ground-truth masks (test)",
         f"{f(feat, 'test_M.width_bias_px', '{:+.2f}')} / "
         f"{f(feat, 'test_gt_mask.width_bias_px', '{:+.2f}')} px", "truth: the drawn hairs' widths"),
        ("Generality suite, worst rendering: count error / width bias on ground-truth masks",
         f"{worst('ground truth', 'count_rel_error')} / {worst('ground truth', 'width_bias_px')}",
         f"on segmenter masks {worst('segmenter', 'count_rel_error')} / "
         f"{worst('segmenter', 'width_bias_px')}; docs/features.md"),
        ("Alopecia grade, accuracy / weighted F1 (test)",
         f"{f(alo, 'accuracy')} / {f(alo, 'weighted_f1')}",
         f"grouped 5-fold CV weighted F1 {f(alo, 'cv_weighted_f1')}; "
         f"Kim baseline {f(alo, 'kim_weighted_f1')}; CNN {f(alo, 'cnn_weighted_f1')}"),
        ("Scalp conditions, macro-F1 of 12 cells [95 % CI] (test): four-head CNN",
         ci(cls, "test_macro_f1"),
         f"classical colour/texture GBM {ci(cls, 'gbm_test_macro_f1')}; majority class "
         f"{ci(cls, 'majority_test_macro_f1')}; {cls.get('test_images', '-')} images of "
         f"{cls.get('test_subjects', '-')} subjects"),
        ("Scalp gate: scalp frames refused / non-scalp images passed (test)",
         f"{f(gate, 'test_false_refusal_rate', '{:.1%}')} / "
         f"{f(gate, 'test_false_acceptance_rate', '{:.1%}')}",
         f"real CC BY frames refused {f(gate, 'test_real_frame_refusal_rate', '{:.1%}')}"),
        ("DiffuseIT-M: hair-preservation Dice, DiffuseIT-M / DiffuseIT (same pairs)",
         f"{f(aug, 'diffuseit_m_hair_dice')} / {f(aug, 'diffuseit_hair_dice')}",
         f"{aug.get('eval_pairs', '-')} pairs; backbone {aug.get('backbone', '-')}, encoder "
         f"{aug.get('encoder', '-')}"),
        ("DiffuseIT-M: share reaching the target grade (classifier on real images only)",
         f(aug, "diffuseit_m_reach"),
         f"SDEdit {f(aug, 'sdedit_reach')}, DiffuseIT {f(aug, 'diffuseit_reach')}, untouched "
         f"source {f(aug, 'diffuseit_m_reach_source')}; "
         f"{f(aug, 'diffuseit_m_seconds_per_image', '{:.2f} s')} an image"),
        ("Classifier + DiffuseIT-M: test macro-F1 minus real-only [paired 95 % CI]",
         (f"{caug['diffuseit_m_difference']:+.3f} [{caug['diffuseit_m_difference_ci'][0]:+.3f}, "
          f"{caug['diffuseit_m_difference_ci'][1]:+.3f}]") if "diffuseit_m_difference" in caug
         else "-",
         (f"+ DiffuseIT {caug['diffuseit_difference']:+.3f} [{caug['diffuseit_difference_ci'][0]:+.3f}, "
          f"{caug['diffuseit_difference_ci'][1]:+.3f}]") if "diffuseit_difference" in caug
         else "+ DiffuseIT: not in `augment.classifier_variants` (the paper profile runs it)"),
        ("Segmentation time per image (hair_masks stage)", f(hm, "seconds_per_image", "{:.2f} s"),
         "2 CPU cores, ONNX Runtime + GrabCut"),
    ]
    lines = ["| result | value | context |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def results_markdown(root: Path) -> str:
    lines = ["# Results of the committed pipeline run", "",
             "Generated by `scalpvision results` from `metrics/` and `reports/` of the run whose",
             "`dvc.lock` is committed beside this file (the built-in synthetic data, 2 CPU cores).",
             "Do not edit by hand.", "", "## Headline", "", headline(root), ""]
    lines += _section(root, "reports/segmentation/table.md", "Hair segmentation (paper Tables 1, 5)")
    lines += _section(root, "reports/features/accuracy.md", "Hair features against the truth")
    lines += _section(root, "reports/alopecia/table.md", "Alopecia severity (paper Tables 4, 7)")
    lines += _section(root, "reports/classifier/table.md", "Scalp conditions (paper Table 2)")
    lines += _section(root, "reports/scalp_gate/table.md", "The scalp gate")
    lines += _section(root, "reports/augment/table.md",
                      "Diffusion augmentation: DiffuseIT-M and its baselines (paper Tables 3, 6)")
    lines += _section(root, "reports/classifier_augmented/table.md",
                      "Does augmentation help the classifier? (paper Table 2)")
    bench = sorted((root / "reports" / "benchmarks").glob("*.md"))
    if bench:
        lines += ["## Benchmarks", "", "Printed by the benchmark scripts (`benchmarks/`), as run; "
                  "`docs/benchmarks.md` says what each row measures.", ""]
        for b in bench:
            lines += [f"### {b.stem}", "", b.read_text().strip(), ""]
    promo = _json(root, "promotion")
    if promo:
        lines += ["## Registry decisions of the run", "", "| model | kind | candidate | champion |"
                  " decision | reason |", "|---|---|---|---|---|---|"]
        lines += [f"| {m} | {d.get('kind', '')} | v{d['candidate']} | v{d['champion']} | "
                  f"{'promoted' if d['promoted'] else 'kept'} | {d['reason']} |"
                  for m, d in promo.items()]
        lines.append("")
    pkg = _json(root, "package")
    if pkg:
        lines += ["## The bento", "", f"`{pkg['bento']}`, {pkg['bytes'] / 2**20:.1f} MiB, serving:",
                  ""]
        lines += [f"- {role}: {m['registered_model']} v{m['registered_version']} "
                  f"@{m['alias']} ({m.get('kind', '')})" for role, m in pkg["models"].items()]
        lines.append("")
    return "\n".join(lines)


def write_results(root: Path) -> list[Path]:
    """Write ``docs/results.md`` and refresh the README block between the markers."""
    out = root / "docs" / "results.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(results_markdown(root))
    written = [out]
    readme = root / "README.md"
    if readme.is_file():
        text = readme.read_text()
        if START in text and END in text:
            new = re.sub(re.escape(START) + r".*?" + re.escape(END),
                         f"{START}\n{headline(root)}\n{END}", text, flags=re.S)
            if new != text:
                readme.write_text(new)
                written.append(readme)
    return written
