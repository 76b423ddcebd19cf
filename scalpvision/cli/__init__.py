"""The ``scalpvision`` command line. Later capabilities add sub-commands in :data:`COMMANDS`.

Settings come from the parameter file (``--params``, default ``params.yaml``; ``--profile``
overlays a profile): the commands have no defaults of their own, and a flag given explicitly
overrides one key. Every sub-command prints one clear ``error:`` line (exit 2) for a user
mistake (a :class:`~scalpvision.errors.UserError`); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def _params(args, keys: dict[str, str] | None = None):
    """The parameters of ``--params``/``--profile``, with each flag of ``keys`` (argument
    name -> dotted parameter key) that was given overriding its key."""
    from scalpvision.config import load_params

    over = {key: getattr(args, a) for a, key in (keys or {}).items()
            if getattr(args, a, None) is not None}
    return load_params(args.params, args.profile, over)


# ----------------------------------------------------------------------------- render
def _render_args(ap):
    ap.add_argument("--out", required=True, help="output folder (AI-Hub layout + ground_truth/)")
    ap.add_argument("--n-images", type=int, help="default: render.n_images")
    ap.add_argument("--seed", type=int, help="default: render.seed")
    ap.add_argument("--workers", type=int, help="default: render.workers")
    ap.add_argument("--validation-share", type=float, help="default: render.validation_share")


@command("render", _render_args)
def cmd_render(args) -> int:
    """Render the built-in synthetic scalp data set in the AI-Hub layout."""
    from tqdm import tqdm

    from scalpvision.data.synthetic_dataset import render_dataset
    from scalpvision.errors import BadInputError

    p = _params(args, {"n_images": "render.n_images", "seed": "render.seed",
                       "workers": "render.workers",
                       "validation_share": "render.validation_share"}).render
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise BadInputError(f"{out}: output folder exists and is not empty")
    summary, _ = render_dataset(p, out, progress=lambda it, total: tqdm(it, total=total,
                                                                         unit="img"))
    print(json.dumps(summary))
    return 0


# ----------------------------------------------------------------------------- import
def _import_args(ap):
    ap.add_argument("source", nargs="?", help="AI-Hub root (with Training/ and/or Validation/)")
    ap.add_argument("--label-table", action="append", default=[],
                    help="flat label table(s) (value_1..6, img_name) instead of a tree")
    ap.add_argument("--out", required=True, help="manifest CSV to write")
    ap.add_argument("--ground-truth", default="", help="ground-truth folder (synthetic data)")
    ap.add_argument("--size", default="", help="expected WxH; 'any' to skip (default: "
                    "import.expected_width x expected_height)")
    ap.add_argument("--seed", type=int, help="split seed (default: split.seed)")
    ap.add_argument("--max-bad-share", type=float, help="default: import.max_bad_share")


@command("import", _import_args)
def cmd_import(args) -> int:
    """Import AI-Hub data (tree or label tables), quarantine bad files, split, write manifest."""
    from tqdm import tqdm

    from scalpvision.data.aihub import accept_import, import_label_tables, import_tree
    from scalpvision.data.splits import grouped_stratified_split

    from scalpvision.errors import BadInputError

    P = _params(args, {"seed": "split.seed", "max_bad_share": "import.max_bad_share"})
    imp, sp = P["import"], P.split
    if not args.source and not args.label_table:
        raise BadInputError("give an AI-Hub root folder or --label-table FILE")
    if args.label_table:
        res = import_label_tables(args.label_table)
    else:
        size = (None if args.size == "any" else
                tuple(int(v) for v in args.size.split("x")) if args.size else
                (imp.expected_width, imp.expected_height))
        res = import_tree(args.source, size, args.ground_truth or None,
                          progress=lambda xs: tqdm(xs, unit="img"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    qpath = out.with_name(out.stem + ".quarantine.csv")
    res.quarantine.to_csv(qpath, index=False)
    for rec in res.quarantine.itertuples():
        print(f"quarantined {rec.file}: {rec.reason} ({rec.detail})", file=sys.stderr)
    conflicts = res.stats.pop("conflicts", [])
    accept_import(conflicts, res.bad_share, imp.max_bad_share, qpath)
    df = res.images
    if "split" not in df.columns and len(df):
        df["split"] = grouped_stratified_split(
            df, {"train": sp.train, "val": sp.val, "test": sp.test}, sp.seed)
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
    ap.add_argument("--min-per-grade", type=int, help="default: check.min_images_per_grade")


@command("check", _check_args)
def cmd_check(args) -> int:
    """Run the Great Expectations data checks and write an HTML report; exit 1 on violations."""
    import pandas as pd

    from data_checks.manifest_suite import leakage_summary, run_manifest_checks
    from data_checks.report import write_report
    from scalpvision.data.aihub import import_label_tables

    from scalpvision.errors import BadInputError, MissingInputError

    c = _params(args, {"min_per_grade": "check.min_images_per_grade"}).check
    quarantined = 0
    if args.label_table:
        res = import_label_tables(args.label_table)
        df, quarantined = res.images, len(res.quarantine)
        for rec in res.quarantine.itertuples():
            print(f"quarantined {rec.file}: {rec.detail}", file=sys.stderr)
        title = "Data checks: " + ", ".join(Path(p).name for p in args.label_table)
    elif args.manifest:
        if not Path(args.manifest).is_file():
            raise MissingInputError(f"{args.manifest}: manifest not found")
        df = pd.read_csv(args.manifest)
        title = f"Data checks: {args.manifest}"
    else:
        raise BadInputError("give a manifest CSV or --label-table FILE")
    outcome = run_manifest_checks(df, min_per_grade=c.min_images_per_grade,
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
    ap.add_argument("--refiner", help="auto | sam | grabcut (default: segment.refiner.name)")


@command("segment", _segment_args)
def cmd_segment(args) -> int:
    """Segment hair: one PNG mask per image; unreadable images are reported, not fatal."""
    import time

    from tqdm import tqdm

    from scalpvision.errors import BadInputError
    from scalpvision.io import list_images
    from scalpvision.segmentation.batch import segment_to_folder
    from scalpvision.segmentation.runtime import runtime_name
    from scalpvision.segmentation.store import build_segmenter, resolve_segmenter_dir

    P = _params(args, {"refiner": "segment.refiner.name"})
    served = P.serve.model("segmenter")
    model_dir, source = resolve_segmenter_dir(args.model, served.registered_name,
                                              P.u2net.out_dir, P.tracking, served.alias)
    seg, _ = build_segmenter(model_dir, P.segment)
    refiner = seg.refiner
    files = list_images(args.images)
    if not files:
        raise BadInputError(f"no images found in {', '.join(args.images)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"model: {source} on {runtime_name(seg.u2net)}; refiner: {refiner.name}; "
          f"{len(files)} images", file=sys.stderr)
    t0 = time.perf_counter()
    res = segment_to_folder(seg, files, out, progress=lambda it, n: tqdm(it, total=n,
                                                                          unit="img"))
    with open(out / "segment_report.csv", "w", encoding="utf-8") as rep:
        rep.write("file,status,hair_share,detail\n")
        for f, share in res.written:
            rep.write(f"\"{f}\",ok,{share:.5f},\n")
        for f, status, msg in res.failed:
            rep.write(f"\"{f}\",{status},,\"{msg}\"\n")
    dt = time.perf_counter() - t0
    for _, status, msg in res.failed:
        print(f"{status}: {msg}", file=sys.stderr)
    print(json.dumps({"images": len(files), "masks_written": len(res.written),
                      "unreadable": res.unreadable,
                      "failed": len(res.failed) - res.unreadable,
                      "seconds_per_image": round(dt / len(files), 3),
                      "out": str(out), "report": str(out / "segment_report.csv")}))
    return 0


# ----------------------------------------------------------------------------- classify
def _classify_args(ap):
    ap.add_argument("images", nargs="+", help="image files and/or folders (searched recursively)")
    ap.add_argument("--model", default="",
                    help="classifier model directory (config.json + weights.pt; default: the "
                         "registered champion, else classifier.out_dir)")
    ap.add_argument("--out", required=True, help="predictions CSV")
    ap.add_argument("--batch", type=int, default=16, help="images per forward pass")


@command("classify", _classify_args)
def cmd_classify(args) -> int:
    """Grade dandruff, sebum and erythema 0-3: one CSV row per image; unreadable images are
    rows with their reason, not fatal."""
    import csv

    from scalpvision.classification.model import CONDITIONS
    from scalpvision.classification.predictor import ClassifyShards
    from scalpvision.errors import BadInputError
    from scalpvision.io import list_images
    from scalpvision.ops.engine import fingerprint, run_shards
    from scalpvision.ops.registry import resolve_model_dir

    P = _params(args)
    role = next((m for m in P.serve.models if m.role == "classifier"), None)
    model_dir, source = resolve_model_dir(
        args.model, role.registered_name if role else P.classifier.register_name,
        P.classifier.out_dir, P.tracking, role.alias if role else P.promote.alias,
        what="classifier", hint="run `dvc repro classifier`")
    files = [str(f) for f in list_images(args.images)]
    if not files:
        raise BadInputError(f"no images found in {', '.join(args.images)}")
    cols = ["file", "status", *[f"{c}_grade" for c in CONDITIONS],
            *[f"{c}_presence" for c in CONDITIONS],
            *[f"{c}_p{g}" for c in CONDITIONS for g in range(4)], "detail"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ex = P.execution
    task = ClassifyShards(str(model_dir), args.batch, min(2, os.cpu_count() or 1))
    work = Path(f"{out}.shards")
    key = fingerprint("classify", args.batch, files, files=[model_dir, *files])
    records = run_shards(task, files, ex, work, key)
    shutil.rmtree(work)
    rows = [r for rec in records for r in rec["rows"]]
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({**{k: round(v, 5) if isinstance(v, float) else v
                           for k, v in r.items() if k != "path"}, "file": r["path"]})
    bad = [r for r in rows if r["status"] != "ok"]
    for r in bad:
        print(f"unreadable: {r['detail']}", file=sys.stderr)
    print(json.dumps({"images": len(files), "classified": len(rows) - len(bad),
                      "unreadable": len(bad), "presence_gate": records[0]["gate"],
                      "model": source, "engine": ex.engine, "out": str(out)}))
    return 0


# ----------------------------------------------------------------------------- features
def _features_args(ap):
    ap.add_argument("masks", nargs="+", help="hair mask PNGs and/or folders")
    ap.add_argument("--out", required=True, help="CSV to write (one row per mask)")
    ap.add_argument("--per-hair", metavar="CSV", help="also write one row per hair (mask, "
                    "strand, length, width, angle; µm and vellus/terminal when calibrated)")
    ap.add_argument("--um-per-px", type=float, help="calibration: adds density per cm², "
                    "widths in µm, vellus share (default: features.um_per_px)")
    ap.add_argument("--vellus-um", type=float, help="default: features.vellus_um")
    ap.add_argument("--images", metavar="DIR", help="the masks' frames (same file stem): widths "
                    "between the hair's edges in the image (features.count.strands.width_edge); "
                    "without them, at the mask's edge")
    ap.add_argument("--count-method", help="strands | hough (default: features.count.method)")
    ap.add_argument("--min-strand-length", type=int,
                    help="px (default: features.count.strands.min_strand_length)")


@command("features", _features_args)
def cmd_features(args) -> int:
    """Hair thickness and count features per mask (paper Table 7) as a CSV table."""
    import pandas as pd
    from tqdm import tqdm

    from scalpvision.errors import BadInputError
    from scalpvision.features.table import hair_features, per_hair_table, trace
    from scalpvision.io import ImageReadError, list_images, read_image, read_mask

    f = _params(args, {"um_per_px": "features.um_per_px", "vellus_um": "features.vellus_um",
                       "count_method": "features.count.method",
                       "min_strand_length": "features.count.strands.min_strand_length"}).features
    files = list_images(args.masks)
    if not files:
        raise BadInputError(f"no mask images found in {', '.join(args.masks)}")
    count = f.count
    frames = {p.stem: p for p in list_images([args.images])} if args.images else {}
    if args.images and not frames:
        raise BadInputError(f"--images {args.images}: no images found there")
    rows, hairs, bad = [], [], []
    for path in tqdm(files, unit="mask"):
        try:
            m = read_mask(path)
            image = read_image(frames[path.stem]) if path.stem in frames else None
        except ImageReadError as exc:
            bad.append(str(exc))
            continue
        if args.images and image is None:
            bad.append(f"{path}: no frame named {path.stem}.* in {args.images}")
            continue
        if image is not None and image.shape[:2] != m.shape:
            bad.append(f"{path}: mask {m.shape[1]}x{m.shape[0]} but its frame "
                       f"{frames[path.stem]} is {image.shape[1]}x{image.shape[0]}")
            continue
        t = trace(m, count, image=image)
        rows.append({"mask": str(path), "image_id": path.stem,
                     **hair_features(m, f.um_per_px, f.vellus_um, count=count, hairs=t)})
        hairs += [{"mask": str(path), "image_id": path.stem, **h}
                  for h in per_hair_table(t, f.um_per_px, f.vellus_um)]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    if args.per_hair:
        Path(args.per_hair).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(hairs).to_csv(args.per_hair, index=False)
    for b in bad:
        print(f"unreadable: {b}", file=sys.stderr)
    print(json.dumps({"masks": len(files), "rows": len(rows), "unreadable": len(bad),
                      "out": args.out, **({"hairs": len(hairs), "per_hair": args.per_hair}
                                          if args.per_hair else {})}))
    return 0


# ----------------------------------------------------------------------------- summary / ui
def _summary_args(ap):
    ap.add_argument("--metrics-dir", default="metrics")


@command("summary", _summary_args)
def cmd_summary(args) -> int:
    """Print the pipeline's metrics and where to look."""
    from scalpvision.ops.summary import summarize

    print(summarize(Path(args.metrics_dir)))
    return 0


def _ui_args(ap):
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--backend-store-uri", default="")


@command("ui", _ui_args)
def cmd_ui(args) -> int:
    """Open the MLflow UI on 127.0.0.1 over the project's tracking store."""
    from scalpvision.ops.tracking import repo_root

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


@command("compare", _compare_args)
def cmd_compare(args) -> int:
    """Cross-run tables (paper Tables 1, 5, 4, 7) from MLflow: markdown + plots."""
    from scalpvision.ops.compare import compare
    from scalpvision.ops.tracking import setup_mlflow

    setup_mlflow(_params(args).tracking)
    md, figs = compare(Path(args.out), args.runs, args.last)
    print(md.read_text())
    print(f"written: {md} and {len(figs)} plot(s) in {md.parent}")
    return 0


# ----------------------------------------------------------------------------- package
def _package_args(ap):
    ap.add_argument("--info", default="metrics/package.json",
                    help="where to write what was built (bento tag, model versions)")


@command("package", _package_args)
def cmd_package(args) -> int:
    """Import the champion models into BentoML, build the service bento and export it."""
    from scalpvision.ops.packaging import package, write_info
    from scalpvision.ops.tracking import repo_root, setup_mlflow

    P = _params(args)
    setup_mlflow(P.tracking)
    info = package(P, repo_root())
    write_info(info, Path(args.info))
    lines = [f"bento {info['bento']} ({info['bytes'] / 2**20:.1f} MiB) -> {info['export']}"]
    lines += [f"  {role:<10} {m['registered_model']} v{m['registered_version']} "
              f"(@{m['alias']}, {m['kind']})" for role, m in info["models"].items()]
    print("\n".join(lines + [f"serve it:  {info['serve']}",
                              f"elsewhere: {info['serve_elsewhere']}"]))
    return 0


# ----------------------------------------------------------------------------- params
def _params_args(ap):
    ap.add_argument("--show", action="store_true",
                    help="print the resolved parameters (profile applied) as YAML")


@command("params", _params_args)
def cmd_params(args) -> int:
    """Validate the parameter file (profile applied), or print the resolved parameters."""
    import yaml

    from scalpvision.config import resolved_dict

    P = _params(args)
    if args.show:
        print(yaml.safe_dump(resolved_dict(args.params, args.profile)[0], sort_keys=False,
                             allow_unicode=True))
    print(f"{args.params}: valid, profile {P.profile} ({', '.join(P.sections())})")
    return 0


# ----------------------------------------------------------------------------- dvc-deps
def _dvc_deps_args(ap):
    ap.add_argument("--write", action="store_true",
                    help="rewrite dvc.yaml's code deps and params from what the code reads")


@command("dvc-deps", _dvc_deps_args)
def cmd_dvc_deps(args) -> int:
    """Check (or --write) that every stage declares the modules and params it reads."""
    from scalpvision.ops.dvc_graph import check_graph, sync_deps
    from scalpvision.ops.tracking import repo_root

    root = repo_root()
    if args.write:
        sync_deps(root)
    problems = check_graph(root)
    for p in problems:
        print(p)
    print(f"dvc.yaml: {'honest' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


# ----------------------------------------------------------------------------- results
def _results_args(ap):
    pass


@command("results", _results_args)
def cmd_results(args) -> int:
    """Regenerate docs/results.md and the README's results table from metrics/ and reports/."""
    from scalpvision.ops.results_doc import write_results
    from scalpvision.ops.tracking import repo_root

    for p in write_results(repo_root()):
        print(f"written: {p}")
    return 0


# ----------------------------------------------------------------------------- server
def _server_args(ap):
    ap.add_argument("--root", default=".team-server",
                    help="where the server keeps its data (PostgreSQL, S3 objects, logs)")
    ap.add_argument("--admin-password", default=os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD", ""),
                    help="the MLflow admin's password (or MLFLOW_AUTH_ADMIN_PASSWORD)")
    ap.add_argument("--port", type=int, default=5000, help="mlflow server port (127.0.0.1)")
    ap.add_argument("--s3-port", type=int, default=8333, help="S3 port (127.0.0.1)")


@command("server", _server_args)
def cmd_server(args) -> int:
    """Start a team's shared MLflow on this machine: PostgreSQL backend, S3 artifacts
    (SeaweedFS) served through the server, basic authentication on; all on 127.0.0.1.
    Runs until Ctrl-C; prints what the pipeline and DVC need."""
    import time

    from scalpvision.errors import BadInputError
    from scalpvision.ops.team_server import TeamServer

    if len(args.admin_password) < 12:  # MLflow's own rule for passwords
        raise BadInputError("give --admin-password (or MLFLOW_AUTH_ADMIN_PASSWORD) of at least "
                            "12 characters")
    with TeamServer(Path(args.root), admin_password=args.admin_password,
                    mlflow_port=args.port, s3_port=args.s3_port) as ts:
        env = ts.client_env()
        env["MLFLOW_TRACKING_PASSWORD"] = "<the admin password>"
        print(json.dumps({"tracking_uri": ts.tracking_uri, "s3_endpoint": ts.s3_endpoint,
                          "backend_store": ts.db_uri("mlflow"), "logs": str(ts.root)}, indent=1))
        print("\nPoint the pipeline at it:")
        for k, v in env.items():
            print(f"  export {k}={v}")
        print("DVC remote on the same object store (keys go to .dvc/config.local):")
        for cmd in ts.dvc_remote_commands():
            shown = [("<secret>" if c == ts.s3_secret else c) for c in cmd]
            print("  " + " ".join(shown))
        print(f"  (the S3 secret key is in {ts.root / 's3-secret'})")
        print("\nCtrl-C stops the servers.", flush=True)
        try:
            while all(p.poll() is None for k, p in ts.procs.items() if k != "postgres"):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="scalpvision", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (configure, fn) in COMMANDS.items():
        sp = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0])
        sp.add_argument("--params", default="params.yaml", help="parameter file")
        sp.add_argument("--profile", default=None,
                        help="overlay profiles/NAME.yaml (default: the file's `profile` key)")
        configure(sp)
        sp.set_defaults(func=fn)
    return ap


def main(argv: list[str] | None = None) -> None:
    from scalpvision.entry import run_main

    args = build_parser().parse_args(argv)
    run_main(lambda: args.func(args))


if __name__ == "__main__":
    main()
