"""One way to map a batch stage over many items, on this process or on a Ray cluster.

A batch stage (``hair_masks``, ``features``, the augmentation generator, ``scalpvision
classify``) describes its work as a :class:`ShardTask`: ``setup()`` loads the model once per
worker, ``run(items, out_dir, start)`` processes one shard of items, writing its files under
``out_dir`` and returning a JSON-serialisable record. :func:`run_shards` cuts the items into
fixed shards (``shard_size``, the same cut whichever engine runs them, so outputs are identical),
runs the shards that are not finished yet, and returns the records in shard order:

- ``local``: every shard in this process, one after another; with ``actors`` > 1, a pool of
  that many worker processes (spawned, each calling ``setup()`` once) takes the shards as
  they come - on a CPU, where much of the work (GrabCut, features) runs on one core;
- ``ray``: Ray Data ``map_batches`` over the shard list with an actor pool
  (``actors`` x ``cpus_per_actor`` CPUs, ``gpus_per_actor`` GPUs each), each actor calling
  ``setup()`` once. On a cluster the work folder must be on storage every node sees.

A finished shard is kept in ``<work>/<fingerprint>/`` (its files plus ``<k>.json``, written
last), so a stage that was interrupted resumes where it stopped; the fingerprint covers the
items, the stage's parameters and its model files, so stale shards are never reused.
:func:`collect` moves the shard files into the stage's output folder and removes the work
folder. The engine is an execution setting (:class:`ExecutionParams`), never a stage
dependency: switching engines re-runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from scalpvision.errors import UserError

log = logging.getLogger(__name__)
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ExecutionParams:
    """How batch stages and training run. An execution setting, not a stage parameter."""
    engine: str  # local | ray
    ray_address: str  # "" -> a Ray started on this machine; "auto" / "ray://head:10001" -> join
    actors: int  # worker-pool size: Ray actors, or local processes; each loads the model once
    cpus_per_actor: float  # keep actors x cpus_per_actor below the cluster's CPUs (ray#44687)
    gpus_per_actor: float  # 1 on GPU nodes (hair_masks, augment)
    shard_size: int  # items per shard: the unit of work, of resuming and of output order
    train_processes: int  # > 1: training stages relaunch under torchrun --standalone (DDP)


LOCAL = ExecutionParams("local", "", 1, 1.0, 0.0, 64, 1)


class ShardTask(Protocol):
    def setup(self) -> None: ...
    def run(self, items: list, out_dir: Path, start: int) -> dict: ...


def check_execution(ex: ExecutionParams, cluster_cpus: float | None = None) -> None:
    """Refuse settings that cannot work, with the reason (and the pool that hangs)."""
    if ex.engine not in ENGINES:
        raise UserError(f"execution.engine {ex.engine!r}; valid: {', '.join(ENGINES)}")
    if ex.actors < 1 or ex.shard_size < 1 or ex.train_processes < 1:
        raise UserError("execution.actors, shard_size and train_processes must be >= 1")
    if ex.cpus_per_actor <= 0 or ex.gpus_per_actor < 0:
        raise UserError("execution.cpus_per_actor must be > 0 and gpus_per_actor >= 0")
    if cluster_cpus is not None and ex.actors * ex.cpus_per_actor >= cluster_cpus:
        raise UserError(
            f"execution: {ex.actors} actor(s) x {ex.cpus_per_actor} CPU take all {cluster_cpus:g} "
            "CPUs of the Ray cluster, leaving none for the data tasks: Ray Data then hangs "
            "(ray-project/ray#44687). Lower execution.actors or cpus_per_actor (0.5 works).")


def fingerprint(*parts: Any, files: Sequence[str | Path] = ()) -> str:
    """A short digest of JSON-able ``parts`` and the bytes of ``files`` (folders: every file
    in them): which shards of an earlier, interrupted run may be reused."""
    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for f in files:
        f = Path(f)
        for p in sorted(f.rglob("*")) if f.is_dir() else [f]:
            if p.is_file():
                h.update(str(p.relative_to(f) if f.is_dir() else p.name).encode())
                with open(p, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
    return h.hexdigest()[:16]


def shards(n: int, size: int) -> list[range]:
    return [range(b, min(b + size, n)) for b in range(0, n, size)]


def _run_one(task: ShardTask, items: list, k: int, start: int, work: Path) -> dict:
    d = work / f"{k:05d}"
    if d.exists():  # a shard interrupted half-way: start it again
        shutil.rmtree(d)
    d.mkdir(parents=True)
    rec = task.run(items, d, start)
    tmp = work / f"{k:05d}.json.tmp"
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, work / f"{k:05d}.json")  # the shard is finished once this exists
    return rec


class _ShardActor:
    """Ray actor: the task's model is loaded once, then shards are run as they come."""

    def __init__(self, task: ShardTask, work: str):
        self.task, self.work = task, Path(work)
        self.task.setup()

    def __call__(self, batch: dict) -> dict:
        done = []
        for k, start, items in zip(batch["shard"], batch["start"], batch["items"]):
            _run_one(self.task, json.loads(items), int(k), int(start), self.work)
            done.append(int(k))
        return {"shard": done}


def run_shards(task: ShardTask, items: Sequence, ex: ExecutionParams, work_root: str | Path,
               key: str, progress: Callable | None = None, gpu: bool = True) -> list[dict]:
    """Run ``task`` over ``items`` (JSON-able) in shards of ``ex.shard_size``; returns the
    shard records in order. Finished shards of an earlier run with the same ``key``
    (:func:`fingerprint`) under ``work_root`` are reused. ``gpu=False``: a CPU-only task,
    whose actors ask for no GPU whatever ``gpus_per_actor`` says."""
    check_execution(ex)
    items = list(items)
    work = Path(work_root) / key
    work.mkdir(parents=True, exist_ok=True)
    for stale in Path(work_root).iterdir():  # shards of other inputs are never reused
        if stale.is_dir() and stale.name != key:
            shutil.rmtree(stale)
    cut = shards(len(items), ex.shard_size)
    todo = [k for k in range(len(cut)) if not (work / f"{k:05d}.json").is_file()]
    if len(todo) < len(cut):
        log.info("resuming: %d of %d shard(s) already finished in %s",
                 len(cut) - len(todo), len(cut), work)
    if todo:
        if ex.engine == "ray":
            _run_ray(task, items, cut, todo, ex if gpu else replace(ex, gpus_per_actor=0.0),
                     work, progress)
        elif ex.actors > 1 and len(todo) > 1:
            _run_processes(task, items, cut, todo, min(ex.actors, len(todo)), work, progress)
        else:
            task.setup()
            it = progress(todo, len(todo)) if progress else todo
            for k in it:
                _run_one(task, [items[i] for i in cut[k]], k, cut[k].start, work)
    return [json.loads((work / f"{k:05d}.json").read_text()) for k in range(len(cut))]


_WORKER_TASK: ShardTask | None = None  # the task of a local worker process


def _worker_setup(task: ShardTask) -> None:
    global _WORKER_TASK
    _WORKER_TASK = task
    task.setup()


def _worker_run(items: list, k: int, start: int, work: str) -> dict:
    return _run_one(_WORKER_TASK, items, k, start, Path(work))


def _run_processes(task, items, cut, todo, workers: int, work: Path, progress) -> None:
    """The shards ``todo`` on ``workers`` spawned processes (spawned, not forked: torch and
    ONNX Runtime thread pools do not survive a fork). A shard that fails raises here, as it
    would in this process; finished shards stay finished."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_setup, initargs=(task,)) as pool:
        futures = [pool.submit(_worker_run, [items[i] for i in cut[k]], k, cut[k].start,
                               str(work)) for k in todo]
        done = as_completed(futures)
        try:
            for f in (progress(done, len(todo)) if progress else done):
                f.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)  # shards not started yet are not started
            raise


def ray_init(ex: ExecutionParams, **local: Any):
    """Connect to the cluster at ``ex.ray_address`` or start a local Ray (``local`` kwargs go
    to ``ray.init``, e.g. ``num_cpus=2, num_gpus=1`` in tests). Ray's token authentication
    stays as the cluster has it (on by default in Ray 2.x)."""
    import ray

    if not ray.is_initialized():
        kw = {"address": ex.ray_address} if ex.ray_address else {
            "include_dashboard": False, **local}
        ray.init(log_to_driver=False, **kw)
    return ray


def _run_ray(task, items, cut, todo, ex: ExecutionParams, work: Path, progress) -> None:
    ray = ray_init(ex)
    check_execution(ex, ray.cluster_resources().get("CPU", 0.0))
    rows = [{"shard": k, "start": cut[k].start,
             "items": json.dumps([items[i] for i in cut[k]])} for k in todo]
    ray.data.DataContext.get_current().enable_progress_bars = False
    gpus = {"num_gpus": ex.gpus_per_actor} if ex.gpus_per_actor else {}
    ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        _ShardActor, fn_constructor_kwargs={"task": task, "work": str(work)}, batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=ex.actors), num_cpus=ex.cpus_per_actor, **gpus)
    stream = ds.iter_rows()
    for _ in (progress(stream, len(todo)) if progress else stream):
        pass


def collect(work_root: str | Path, key: str, out_dir: str | Path,
            subdir: str = "") -> int:
    """Move every shard's files (in shard order, sub-folders kept) into ``out_dir/subdir``
    and remove the work folder; returns the number of files moved."""
    work = Path(work_root) / key
    dest = Path(out_dir) / subdir
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    for d in sorted(p for p in work.iterdir() if p.is_dir()):
        for f in sorted(p for p in d.rglob("*") if p.is_file()):
            target = dest / f.relative_to(d)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, target)
            n += 1
    shutil.rmtree(Path(work_root))
    return n


@dataclass
class EngineProbe:
    """A shard task that only reports where it ran (process, node, GPUs Ray gave it): what
    ``scalpvision engine-check`` and the tests use to see the pool at work."""

    def setup(self) -> None:
        pass

    def run(self, items: list, out_dir: Path, start: int) -> dict:
        import socket

        gpus: list[str] = []
        try:
            import ray

            if ray.is_initialized():
                gpus = [str(g) for g in ray.get_gpu_ids()]
        except ImportError:
            pass
        return {"pid": os.getpid(), "node": socket.gethostname(), "gpus": gpus,
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                "items": items}
