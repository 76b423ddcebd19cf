"""The ``scalpvision`` command line. Later capabilities add sub-commands in :data:`COMMANDS`.

Every sub-command prints one clear ``error:`` line (exit 2) for a user mistake: a bad path, a
bad parameter key, an unreadable file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

COMMANDS: dict[str, tuple[Callable, Callable]] = {}


def command(name: str, configure: Callable[[argparse.ArgumentParser], None]):
    def deco(fn):
        COMMANDS[name] = (configure, fn)
        return fn
    return deco


# ----------------------------------------------------------------------------- render
def _render_args(ap):
    ap.add_argument("--out", required=True, help="output folder (AI-Hub layout + ground_truth/)")
    ap.add_argument("--n-images", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2406)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--validation-share", type=float, default=0.3)


@command("render", _render_args)
def cmd_render(args) -> int:
    """Render the built-in synthetic scalp data set in the AI-Hub layout."""
    from tqdm import tqdm

    from scalpvision.data.synthetic_dataset import plan_dataset, write_dataset

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: output folder exists and is not empty")
    plans = plan_dataset(args.n_images, args.seed, validation_share=args.validation_share)
    summary = write_dataset(out, plans, args.seed, workers=args.workers,
                            progress=lambda it, total: tqdm(it, total=total, unit="img"))
    print(json.dumps(summary))
    return 0


# ----------------------------------------------------------------------------- import
def _import_args(ap):
    ap.add_argument("source", nargs="?", help="AI-Hub root (with Training/ and/or Validation/)")
    ap.add_argument("--label-table", action="append", default=[],
                    help="flat label table(s) (value_1..6, img_name) instead of a tree")
    ap.add_argument("--out", required=True, help="manifest CSV to write")
    ap.add_argument("--ground-truth", default="", help="ground-truth folder (synthetic data)")
    ap.add_argument("--size", default="640x480", help="expected WxH; 'any' to skip")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--fractions", default="0.7,0.15,0.15", help="train,val,test")
    ap.add_argument("--max-bad-share", type=float, default=0.05)


@command("import", _import_args)
def cmd_import(args) -> int:
    """Import AI-Hub data (tree or label tables), quarantine bad files, split, write manifest."""
    from tqdm import tqdm

    from scalpvision.data.aihub import accept_import, import_label_tables, import_tree
    from scalpvision.data.splits import grouped_stratified_split

    if not args.source and not args.label_table:
        raise ValueError("give an AI-Hub root folder or --label-table FILE")
    if args.label_table:
        res = import_label_tables(args.label_table)
    else:
        size = None if args.size == "any" else tuple(int(v) for v in args.size.split("x"))
        res = import_tree(args.source, size, args.ground_truth or None,
                          progress=lambda xs: tqdm(xs, unit="img"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    qpath = out.with_name(out.stem + ".quarantine.csv")
    res.quarantine.to_csv(qpath, index=False)
    for rec in res.quarantine.itertuples():
        print(f"quarantined {rec.file}: {rec.reason} ({rec.detail})", file=sys.stderr)
    conflicts = res.stats.pop("conflicts", [])
    accept_import(conflicts, res.bad_share, args.max_bad_share, qpath)
    df = res.images
    if "split" not in df.columns and len(df):
        tr, va, te = (float(v) for v in args.fractions.split(","))
        df["split"] = grouped_stratified_split(df, {"train": tr, "val": va, "test": te}, args.seed)
    df.to_csv(out, index=False)
    print(json.dumps({**res.stats, "manifest": str(out), "quarantine": str(qpath)}))
    return 0


# ----------------------------------------------------------------------------- check
def _check_args(ap):
    ap.add_argument("manifest", nargs="?", help="manifest CSV (from `scalpvision import`)")
    ap.add_argument("--label-table", action="append", default=[],
                    help="check flat label tables (e.g. the authors' train/val/test CSVs)")
    ap.add_argument("--report-dir", required=True)
    ap.add_argument("--no-files", action="store_true", help="don't re-open image files")
    ap.add_argument("--min-per-grade", type=int, default=1)


@command("check", _check_args)
def cmd_check(args) -> int:
    """Run the Great Expectations data checks and write an HTML report; exit 1 on violations."""
    import pandas as pd

    from data_checks.manifest_suite import leakage_summary, run_manifest_checks
    from data_checks.report import write_report
    from scalpvision.data.aihub import import_label_tables

    quarantined = 0
    if args.label_table:
        res = import_label_tables(args.label_table)
        df, quarantined = res.images, len(res.quarantine)
        for rec in res.quarantine.itertuples():
            print(f"quarantined {rec.file}: {rec.detail}", file=sys.stderr)
        title = "Data checks: " + ", ".join(Path(p).name for p in args.label_table)
    elif args.manifest:
        if not Path(args.manifest).is_file():
            raise FileNotFoundError(f"{args.manifest}: manifest not found")
        df = pd.read_csv(args.manifest)
        title = f"Data checks: {args.manifest}"
    else:
        raise ValueError("give a manifest CSV or --label-table FILE")
    outcome = run_manifest_checks(df, min_per_grade=args.min_per_grade,
                                  check_files=not args.no_files)
    leak = {**leakage_summary(df), "rows_quarantined_before_checks": quarantined}
    report = write_report(outcome, args.report_dir, title, leak)
    for r in outcome.failed:
        print(f"FAILED {r['expectation']}({r['column']}) [{r['scope']}]: "
              f"{r['unexpected_count']} unexpected rows, e.g. {r['partial_unexpected'][:3]}")
    print(json.dumps(leak))
    print(f"{'PASSED' if outcome.success else 'FAILED'}: {len(outcome.failed)} of "
          f"{len(outcome.results)} expectations failed; report {report}")
    return 0 if outcome.success else 1


# ----------------------------------------------------------------------------- segment
def _segment_args(ap):
    ap.add_argument("images", nargs="+", help="image files and/or folders (searched recursively)")
    ap.add_argument("--out", required=True, help="folder for <stem>.png masks")
    ap.add_argument("--model", default="",
                    help="U²-Net model directory (default: the registered champion, else "
                         "models/u2net)")
    ap.add_argument("--refiner", default="", help="auto | sam | grabcut (default: params.yaml)")
    ap.add_argument("--params", default="params.yaml")


@command("segment", _segment_args)
def cmd_segment(args) -> int:
    """Segment hair: one PNG mask per image; unreadable images are reported, not fatal."""
    import time

    from tqdm import tqdm

    from scalpvision.config import load_section
    from scalpvision.io import ImageReadError, iter_images, list_images, write_mask
    from dataclasses import replace

    from scalpvision.segmentation.runtime import runtime_name
    from scalpvision.segmentation.store import build_segmenter, resolve_segmenter_dir

    s = load_section("segment", args.params)
    model_dir, source = resolve_segmenter_dir(args.model, args.params)
    seg, _ = build_segmenter(model_dir, replace(s, refiner=args.refiner or s.refiner))
    refiner = seg.refiner
    files = list_images(args.images)
    if not files:
        raise ValueError(f"no images found in {', '.join(args.images)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"model: {source} on {runtime_name(seg.u2net)}; refiner: {refiner.name}; "
          f"{len(files)} images", file=sys.stderr)
    failed, t0 = [], time.perf_counter()
    with open(out / "segment_report.csv", "w", encoding="utf-8") as rep:
        rep.write("file,status,hair_share,detail\n")

        for f, res in tqdm(seg.map(iter_images(files)), total=len(files), unit="img"):
            if isinstance(res, Exception):  # unreadable, or failed inside the segmenter
                msg = str(res) if isinstance(res, ImageReadError) else f"{f}: {res}"
                status = "unreadable" if isinstance(res, ImageReadError) else "failed"
                failed.append((status, msg))
                rep.write(f"\"{f}\",{status},,\"{msg}\"\n")
                continue
            write_mask(out / f"{f.stem}.png", res.final)
            rep.write(f"\"{f}\",ok,{res.final.mean():.5f},\n")
    dt = time.perf_counter() - t0
    for status, msg in failed:
        print(f"{status}: {msg}", file=sys.stderr)
    print(json.dumps({"images": len(files), "masks_written": len(files) - len(failed),
                      "unreadable": sum(st == "unreadable" for st, _ in failed),
                      "failed": sum(st == "failed" for st, _ in failed), "seconds_per_image": round(dt / len(files), 3),
                      "out": str(out), "report": str(out / "segment_report.csv")}))
    return 0


# ----------------------------------------------------------------------------- features
def _features_args(ap):
    ap.add_argument("masks", nargs="+", help="hair mask PNGs and/or folders")
    ap.add_argument("--out", required=True, help="CSV to write (one row per mask)")
    ap.add_argument("--um-per-px", type=float, default=0.0,
                    help="calibration: adds density per cm², widths in µm, vellus share")
    ap.add_argument("--vellus-um", type=float, default=40.0)
    ap.add_argument("--count-method", default="strands", help="strands | hough (paper)")
    ap.add_argument("--min-strand-length", type=int, default=None,
                    help="strands: shorter ones are crossing fragments (px; default 30)")


@command("features", _features_args)
def cmd_features(args) -> int:
    """Hair thickness and count features per mask (paper Table 7) as a CSV table."""
    import pandas as pd
    from tqdm import tqdm

    from scalpvision.features.count import count_params
    from scalpvision.features.table import hair_features
    from scalpvision.io import ImageReadError, list_images, read_mask

    files = list_images(args.masks)
    if not files:
        raise ValueError(f"no mask images found in {', '.join(args.masks)}")
    count = count_params(args.count_method, args.min_strand_length)
    rows, bad = [], []
    for f in tqdm(files, unit="mask"):
        try:
            m = read_mask(f)
        except ImageReadError as exc:
            bad.append(str(exc))
            continue
        rows.append({"mask": str(f), "image_id": f.stem,
                     **hair_features(m, args.um_per_px, args.vellus_um,
                                     count=count)})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    for b in bad:
        print(f"unreadable: {b}", file=sys.stderr)
    print(json.dumps({"masks": len(files), "rows": len(rows), "unreadable": len(bad),
                      "out": args.out}))
    return 0


# ----------------------------------------------------------------------------- summary / ui
def _summary_args(ap):
    ap.add_argument("--metrics-dir", default="metrics")


@command("summary", _summary_args)
def cmd_summary(args) -> int:
    """Print the pipeline's metrics and where to look."""
    from scalpvision.summary import summarize

    print(summarize(Path(args.metrics_dir)))
    return 0


def _ui_args(ap):
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--backend-store-uri", default="")


@command("ui", _ui_args)
def cmd_ui(args) -> int:
    """Open the MLflow UI on 127.0.0.1 over the project's tracking store."""
    from scalpvision.tracking import repo_root

    root = repo_root()
    uri = args.backend_store_uri or os.environ.get("MLFLOW_TRACKING_URI") or \
        f"sqlite:///{root / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin), "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
           "--port", str(args.port), "--workers", "1"]
    print(f"MLflow UI: http://127.0.0.1:{args.port}  (store {uri}; Ctrl-C to stop)")
    return subprocess.call(cmd, env=env)


# ----------------------------------------------------------------------------- compare
def _compare_args(ap):
    ap.add_argument("--runs", nargs="*", default=None, metavar="RUN_ID",
                    help="compare just these MLflow runs (default: every finished run)")
    ap.add_argument("--last", type=int, default=0,
                    help="keep the newest N pipeline runs of each kind (0 = all)")
    ap.add_argument("--out", default="reports/compare")
    ap.add_argument("--params", default="params.yaml")


@command("compare", _compare_args)
def cmd_compare(args) -> int:
    """Cross-run tables (paper Tables 1, 5, 4, 7) from MLflow: markdown + plots."""
    from scalpvision.compare import compare
    from scalpvision.config import load_section
    from scalpvision.tracking import setup_mlflow

    setup_mlflow(load_section("tracking", args.params))
    md, figs = compare(Path(args.out), args.runs, args.last)
    print(md.read_text())
    print(f"written: {md} and {len(figs)} plot(s) in {md.parent}")
    return 0


# ----------------------------------------------------------------------------- package
def _package_args(ap):
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--info", default="metrics/package.json",
                    help="where to write what was built (bento tag, model versions)")


@command("package", _package_args)
def cmd_package(args) -> int:
    """Import the champion models into BentoML, build the service bento and export it."""
    from scalpvision.bento import package, write_info
    from scalpvision.config import load_section
    from scalpvision.tracking import repo_root, setup_mlflow

    setup_mlflow(load_section("tracking", args.params))
    info = package(load_section("serve", args.params), repo_root())
    write_info(info, Path(args.info))
    m = info["models"]
    print(f"bento {info['bento']} ({info['bytes'] / 2**20:.1f} MiB) -> {info['export']}\n"
          f"  segmenter {m['segmenter']['registered_model']} "
          f"v{m['segmenter']['registered_version']} (@{m['segmenter']['alias']})\n"
          f"  alopecia  {m['alopecia']['registered_model']} "
          f"v{m['alopecia']['registered_version']} (@{m['alopecia']['alias']})\n"
          f"serve it:  {info['serve']}\n"
          f"elsewhere: {info['serve_elsewhere']}")
    return 0


# ----------------------------------------------------------------------------- params
def _params_args(ap):
    ap.add_argument("--file", default="params.yaml")
    ap.add_argument("--profile", help="rewrite the file with profiles/<name>.yaml applied")


@command("params", _params_args)
def cmd_params(args) -> int:
    """Validate params.yaml, or apply a profile (e.g. `--profile paper`)."""
    import yaml

    from scalpvision.config import ConfigError, apply_profile, read_params, validate_params

    if args.profile:
        prof = Path(args.file).resolve().parent / "profiles" / f"{args.profile}.yaml"
        if not prof.is_file():
            valid = sorted(p.stem for p in prof.parent.glob("*.yaml"))
            raise ConfigError(f"{prof}: no such profile; valid profiles: demo, {', '.join(valid)}")
        merged = apply_profile(read_params(args.file), yaml.safe_load(prof.read_text()))
        Path(args.file).write_text(yaml.safe_dump(merged, sort_keys=False, allow_unicode=True))
    sections = validate_params(args.file)
    print(f"{args.file}: valid ({', '.join(sections)})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="scalpvision", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (configure, fn) in COMMANDS.items():
        sp = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0])
        configure(sp)
        sp.set_defaults(func=fn)
    return ap


def main(argv: list[str] | None = None) -> None:
    from scalpvision.entry import run_main

    args = build_parser().parse_args(argv)
    run_main(lambda: args.func(args))


if __name__ == "__main__":
    main()
