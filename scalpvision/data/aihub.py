"""Importer for the AI-Hub "scalp images by type" layout and for flat label tables.

:func:`import_tree` reads ``Training|Validation/01.원천데이터|02.라벨링데이터`` trees (the real
set or the built-in synthetic one), de-duplicates images filed under several condition folders,
checks every file, and returns one row per good image plus a quarantine table with the file and
the reason for every bad one. Nothing is dropped silently: every file found ends up in exactly
one of the two tables.

:func:`import_label_tables` reads flat tables (``value_1..value_6, img_name``), such as the
authors' train/val/test CSVs, keeping their own split so the data checks can judge it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image, UnidentifiedImageError

from scalpvision.data import layout
from scalpvision.errors import UserError
from scalpvision.io import sha256_file

log = logging.getLogger(__name__)


class ImportFailure(UserError, ValueError):
    """The import cannot go on: conflicting labels, too many bad files, or a bad source."""


@dataclass
class ImportResult:
    images: pd.DataFrame  # one row per good, de-duplicated image
    quarantine: pd.DataFrame  # columns: file, reason, detail
    stats: dict = field(default_factory=dict)

    @property
    def bad_share(self) -> float:
        n_bad = self.quarantine["image_file_name"].nunique() if len(self.quarantine) else 0
        total = len(self.images) + n_bad
        return n_bad / total if total else 0.0


def accept_import(conflicts: list[str], bad_share: float, max_bad_share: float,
                  report: str | Path) -> None:
    """The import's acceptance rule: any label conflict, or a bad-file share above the limit,
    stops it with an :class:`ImportFailure` naming the problem and the quarantine report."""
    if conflicts:
        raise ImportFailure("conflicting labels for the same image:\n  " + "\n  ".join(conflicts))
    if bad_share > max_bad_share:
        raise ImportFailure(f"bad files ({bad_share:.1%}) exceed the limit max_bad_share="
                            f"{max_bad_share:.1%}; see {report}")


def parse_values(raw: dict, where: str) -> dict[str, int]:
    """Validate ``value_1..value_6`` (strings or ints "0".."3"); ValueError names the problem."""
    out = {}
    for key in layout.VALUE_COLUMNS:
        if key not in raw:
            raise ValueError(f"{where}: missing {key}")
        val = raw[key]
        text = str(val).strip()
        if isinstance(val, bool) or not text.lstrip("-").isdigit():
            raise ValueError(f"{where}: {key}={val!r} is not an integer grade")
        if not 0 <= int(text) <= 3:
            raise ValueError(f"{where}: {key}={val!r} is out of range 0..3")
        out[key] = int(text)
    return out


def inspect_image(path: Path, expected: tuple[int, int] | None) -> dict:
    """Decode an image fully; returns width/height/mode or raises ValueError with the reason."""
    try:
        with Image.open(path) as im:
            im.load()  # a truncated or corrupt JPEG fails here, not at open
            w, h, mode = im.width, im.height, im.mode
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"corrupt or unreadable image ({exc})") from exc
    if mode != "RGB":
        raise ValueError(f"image mode {mode}, expected RGB")
    if expected and (w, h) != tuple(expected):
        raise ValueError(f"size {w}x{h}, expected {expected[0]}x{expected[1]}")
    return {"width": w, "height": h, "mode": mode}


def _scan(root: Path) -> tuple[dict, dict, list[dict]]:
    """Collect image and label filings per file stem across splits and condition folders."""
    images: dict[str, list[tuple[str, Path, tuple | None]]] = defaultdict(list)
    labels: dict[str, list[tuple[str, Path, tuple | None]]] = defaultdict(list)
    stray: list[dict] = []
    found_split = False
    for split_dir in layout.SPLIT_DIRS:
        base = root / split_dir
        if not base.is_dir():
            continue
        found_split = True
        for kind, sub, store, suffixes in (("image", layout.IMAGE_ROOT, images, {".jpg", ".jpeg"}),
                                           ("label", layout.LABEL_ROOT, labels, {".json"})):
            if not (base / sub).is_dir():
                continue
            for p in sorted((base / sub).rglob("*")):
                if p.is_dir():
                    continue
                folder = layout.parse_condition_folder(p.parent.name)
                if p.suffix.lower() not in suffixes:
                    stray.append({"file": str(p), "image_file_name": p.name,
                                  "reason": "unexpected_file", "detail": f"not a {kind} file"})
                    continue
                store[p.stem].append((split_dir, p, folder))
    if not found_split:
        raise ImportFailure(
            f"{root}: no {' or '.join(layout.SPLIT_DIRS)} folder; expected the AI-Hub layout "
            f"<root>/Training/{layout.IMAGE_ROOT}/[원천]1.미세각질_0.양호/*.jpg"
        )
    return images, labels, stray


def import_tree(root: str | Path, expected_size: tuple[int, int] | None = (640, 480),
                ground_truth_dir: str | Path | None = None,
                progress: Callable | None = None) -> ImportResult:
    """Import an AI-Hub tree. See the module docstring for what is checked."""
    root = Path(root)
    if not root.is_dir():
        raise ImportFailure(f"{root}: source folder not found")
    images, labels, quarantine = _scan(root)
    gt = Path(ground_truth_dir) if ground_truth_dir else None
    gt_table = None
    if gt is not None and (gt / "images.csv").is_file():
        gt_table = pd.read_csv(gt / "images.csv").set_index("image_file_name")
    rows, conflicts = [], []

    def bad(path, name, reason, detail):
        quarantine.append({"file": str(path), "image_file_name": name, "reason": reason,
                           "detail": detail})

    stems = sorted(set(images) | set(labels))
    for stem in (progress(stems) if progress else stems):
        filed = images.get(stem, [])
        labs = labels.get(stem, [])
        name = filed[0][1].name if filed else stem + ".jpg"
        if not filed:
            for _, p, _ in labs:
                bad(p, name, "label_without_image", "no image file with this name in the tree")
            continue
        if not labs:
            for _, p, _ in filed:
                bad(p, name, "missing_label", "no label JSON for this image")
            continue
        # labels: every filing must parse, and all filings must agree
        parsed = []
        problem = None
        for _, p, _ in labs:
            try:
                raw = json.loads(p.read_text(encoding="utf-8"))
                if not isinstance(raw, dict):
                    raise ValueError("top level is not a JSON object")
                if raw.get("image_file_name", name) != name:
                    raise ValueError(f"image_file_name {raw.get('image_file_name')!r} != {name!r}")
                parsed.append((p, parse_values(raw, p.name)))
            except (ValueError, UnicodeDecodeError) as exc:
                problem = (p, "malformed_label", str(exc))
                break
        if problem:
            bad(filed[0][1], name, problem[1], f"{problem[0]}: {problem[2]}")
            continue
        distinct = {tuple(v.values()) for _, v in parsed}
        if len(distinct) > 1:
            conflicts.append(f"{name}: " + "; ".join(
                f"{p} -> {','.join(map(str, v.values()))}" for p, v in parsed))
            bad(filed[0][1], name, "label_conflict", f"{len(distinct)} different label sets")
            continue
        values = parsed[0][1]
        # images: copies must be byte-identical, decodable, RGB and the expected size
        hashes = {sha256_file(p) for _, p, _ in filed}
        if len(hashes) > 1:
            bad(filed[0][1], name, "copies_differ",
                f"{len(filed)} filings with {len(hashes)} different contents")
            continue
        first = filed[0][1]
        try:
            tokens = layout.parse_file_name(name)
            info = inspect_image(first, expected_size)
        except ValueError as exc:
            reason = "bad_file_name" if "file name" in str(exc) or "region" in str(exc) else (
                "wrong_size" if str(exc).startswith("size") else
                "wrong_mode" if "mode" in str(exc) else "corrupt_image")
            bad(first, name, reason, str(exc).split(": ", 1)[-1] if reason == "bad_file_name"
                else str(exc))
            continue
        splits = sorted({s for s, _, _ in filed})
        row = {
            "image_id": stem, "image_file_name": name, "path": str(first),
            "sha256": hashes.pop(), **info, **values, **layout.derive_targets(values),
            "group": tokens.group, "code": tokens.code, "serial": tokens.serial,
            "position": tokens.position, "region": tokens.region,
            "source_split": "+".join(splits), "n_filings": len(filed),
        }
        if gt is not None:
            mpath = gt / "masks" / f"{stem}.png"
            row["mask_path"] = str(mpath) if mpath.is_file() else ""
            if gt_table is not None and name in gt_table.index:
                row["gt_hair_count"] = int(gt_table.loc[name, "hair_count"])
                row["gt_mean_width_px"] = float(gt_table.loc[name, "mean_width_px"])
        rows.append(row)
    qdf = pd.DataFrame(quarantine, columns=["file", "image_file_name", "reason", "detail"])
    result = ImportResult(pd.DataFrame(rows), qdf, {
        "image_files": sum(len(v) for v in images.values()),
        "label_files": sum(len(v) for v in labels.values()),
        "unique_images": len(rows), "quarantined": int(qdf["image_file_name"].nunique()),
        "duplicate_filings": sum(len(v) - 1 for v in images.values() if len(v) > 1),
        "label_conflicts": len(conflicts),
    })
    result.stats["conflicts"] = conflicts
    return result


def import_label_tables(paths: list[str | Path]) -> ImportResult:
    """Import flat label tables; the split comes from the file name (train/val/test)."""
    frames, quarantine = [], []
    for p in map(Path, paths):
        if not p.is_file():
            raise ImportFailure(f"{p}: label table not found")
        df = pd.read_csv(p, dtype=str)
        missing = [c for c in (*layout.VALUE_COLUMNS, "img_name") if c not in df.columns]
        if missing:
            raise ImportFailure(f"{p}: missing column(s) {', '.join(missing)}")
        split = next((s for s in ("train", "val", "test") if p.name.startswith(s)), p.stem)
        for rec in df.to_dict("records"):
            name = rec["img_name"]
            try:
                values = parse_values(rec, f"{p.name}:{name}")
                tokens = layout.parse_file_name(name)
            except ValueError as exc:
                quarantine.append({"file": str(p), "image_file_name": name,
                                   "reason": "malformed_label", "detail": str(exc)})
                continue
            frames.append({"image_id": Path(name).stem, "image_file_name": name, **values,
                           **layout.derive_targets(values), "group": tokens.group,
                           "code": tokens.code, "serial": tokens.serial,
                           "position": tokens.position, "region": tokens.region,
                           "source_split": split, "split": split})
    qdf = pd.DataFrame(quarantine, columns=["file", "image_file_name", "reason", "detail"])
    out = pd.DataFrame(frames)
    return ImportResult(out, qdf, {"rows": len(out), "quarantined": len(qdf)})
