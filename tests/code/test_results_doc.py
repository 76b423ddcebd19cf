"""docs/results.md and the README's results table come from metrics/ and reports/ alone."""

import json

from scalpvision.ops.results_doc import END, START, write_results


def test_results_are_generated_from_metrics_and_reports(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "reports/segmentation").mkdir(parents=True)
    (tmp_path / "metrics/segmentation.json").write_text(json.dumps(
        {"ensemble (M).dice": 0.8123, "u2net (M̂).dice": 0.7, "images": 45,
         "baseline: yue_morphology.dice": 0.8}))
    (tmp_path / "metrics/alopecia.json").write_text(json.dumps(
        {"accuracy": 0.9, "weighted_f1": 0.88, "cv_weighted_f1": 0.87}))
    (tmp_path / "reports/segmentation/table.md").write_text("### T\n\n| a |\n|---|\n| 1 |\n")
    (tmp_path / "README.md").write_text(f"intro\n{START}\nstale table\n{END}\noutro\n")
    written = write_results(tmp_path)
    readme = (tmp_path / "README.md").read_text()
    assert "stale table" not in readme and "0.812" in readme and readme.startswith("intro")
    assert readme.rstrip().endswith("outro")
    doc = (tmp_path / "docs/results.md").read_text()
    assert "0.812" in doc and "| 1 |" in doc and "0.900 / 0.880" in doc
    assert "no `reports/alopecia/table.md`" in doc  # a missing report is said, not hidden
    assert set(written) == {tmp_path / "docs/results.md", tmp_path / "README.md"}
