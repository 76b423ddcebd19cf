"""Segmenting many images into a folder of masks: the one batch loop the ``hair_masks`` stage
and ``scalpvision segment`` share. A bad image is reported with its reason and the batch goes
on; nothing is dropped silently."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scalpvision.io import ImageReadError, iter_images, write_mask


@dataclass
class BatchResult:
    written: list[tuple[Path, float]] = field(default_factory=list)  # (source, hair share)
    failed: list[tuple[Path, str, str]] = field(default_factory=list)  # (source, status, why)

    @property
    def unreadable(self) -> int:
        return sum(status == "unreadable" for _, status, _ in self.failed)


SELECTED = "selected.csv"  # the images a mask folder was made for (image_id, split, group)


def segment_to_folder(seg, files: Iterable[str | Path], out_dir: str | Path,
                      progress: Callable | None = None, total: int | None = None
                      ) -> BatchResult:
    """Write ``<stem>.png`` (M) into ``out_dir`` for every readable image of ``files``;
    ``progress(iterable, total)`` wraps the stream (tqdm)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = list(files)
    stream = seg.map(iter_images(files))
    if progress is not None:
        stream = progress(stream, total or len(files))
    res = BatchResult()
    for path, r in stream:
        path = Path(path)
        if isinstance(r, Exception):
            if isinstance(r, ImageReadError):
                res.failed.append((path, "unreadable", str(r)))
            else:
                res.failed.append((path, "failed", f"{path}: {type(r).__name__}: {r}"))
            continue
        write_mask(out / f"{path.stem}.png", r.final)
        res.written.append((path, float(r.final.mean())))
    return res


@dataclass
class SegmentShards:
    """The ``hair_masks`` / ``scalpvision segment`` work as a shard task
    (:mod:`scalpvision.ops.engine`): the segmenter of ``model_dir`` + ``segment`` settings is
    built once per worker with ``threads`` torch threads (the same on every engine, so masks
    are identical); a shard writes ``<stem>.png`` per image and records what failed."""
    model_dir: str
    segment: object  # SegmentParams
    threads: int

    def setup(self) -> None:
        import torch

        from scalpvision.segmentation.store import build_segmenter

        torch.set_num_threads(self.threads)
        self._seg, _ = build_segmenter(self.model_dir, self.segment)

    def __getstate__(self) -> dict:  # a worker builds its own segmenter
        return {k: v for k, v in self.__dict__.items() if k != "_seg"}

    def run(self, items: list, out_dir: Path, start: int) -> dict:
        from scalpvision.segmentation.runtime import runtime_name

        res = segment_to_folder(self._seg, items, out_dir)
        return {"runtime": runtime_name(self._seg.u2net), "refiner": self._seg.refiner.name,
                "written": [[str(p), s] for p, s in res.written],
                "failed": [[str(p), st, why] for p, st, why in res.failed]}


def merge_results(records: list[dict]) -> BatchResult:
    """One :class:`BatchResult` from the shard records of :class:`SegmentShards`."""
    res = BatchResult()
    for r in records:
        res.written += [(Path(p), float(s)) for p, s in r["written"]]
        res.failed += [(Path(p), st, why) for p, st, why in r["failed"]]
    return res
