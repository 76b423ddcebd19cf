"""The GX suite: passes a clean manifest, and flags the real AI-Hub tables' split leak."""

import pandas as pd

from data_checks.manifest_suite import leakage_summary, run_manifest_checks
from data_checks.report import write_report
from scalpvision.data.aihub import import_label_tables, import_tree
from scalpvision.data.splits import grouped_stratified_split


def _manifest(tree):
    df = import_tree(tree).images
    df["split"] = grouped_stratified_split(df, {"train": .6, "val": .2, "test": .2}, seed=0)
    return df


def _failed(outcome):
    return {(r["expectation"], r["column"]) for r in outcome.failed}


def test_clean_manifest_passes(small_tree, tmp_path):
    out = run_manifest_checks(_manifest(small_tree))
    assert out.success, out.failed
    page = write_report(out, tmp_path, "clean")
    assert "PASSED" in page.read_text()


def test_violations_are_each_caught(small_tree, tmp_path):
    df = _manifest(small_tree)
    bad = pd.concat([df, df.iloc[[0]].assign(split="test" if df.iloc[0].split != "test" else "train")])
    bad.loc[bad.index[1], "value_2"] = 7
    bad.loc[bad.index[2], "width"] = 320
    out = run_manifest_checks(bad.reset_index(drop=True), check_files=False)
    failed = _failed(out)
    assert ("expect_column_values_to_be_in_set", "value_2") in failed
    assert ("expect_column_values_to_be_in_set", "width") in failed
    assert ("expect_column_values_to_be_in_set", "image_split_count") in failed
    assert ("expect_column_values_to_be_unique", "sha256") in failed
    page = write_report(out, tmp_path, "bad").read_text()
    assert "FAILED" in page and "image_split_count" in page


def test_changed_file_is_caught(small_tree, tmp_path):
    import shutil
    tree = tmp_path / "t"
    shutil.copytree(small_tree, tree)
    df = _manifest(tree)
    with open(df.iloc[0].path, "ab") as f:
        f.write(b"\0")
    assert ("expect_column_values_to_be_in_set", "file_ok") in _failed(run_manifest_checks(df))


def test_real_label_tables_fail_with_their_4754_cross_split_duplicates(aihub_labels):
    res = import_label_tables(sorted(aihub_labels.glob("*_label.csv.gz")))
    leak = leakage_summary(res.images)
    assert leak["file_names_in_several_splits"] == 4754
    assert leak["names_test∩train"] == 3383 and leak["names_test∩val"] == 1371
    out = run_manifest_checks(res.images)
    assert not out.success
    by = {(r["expectation"], r["column"]): r for r in out.failed}
    assert by[("expect_column_values_to_be_in_set", "image_split_count")]["unexpected_count"] == 9508
    assert ("expect_column_values_to_be_in_set", "group_split_count") in by
    assert len(res.images) + len(res.quarantine) == 50639 + 21703 + 23568
