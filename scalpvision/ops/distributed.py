"""Data-parallel training under ``torchrun``: plain DDP from the environment.

One training script serves one process and many. :func:`start` reads torchrun's environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``...) and, when there is more than one
process, calls ``init_process_group`` (gloo on the CPU, NCCL on GPUs); with
``execution.train_processes`` > 1 and no torchrun around it, it first relaunches the script
under ``torchrun --standalone``, so choosing DDP is configuration, not a different command.

The training loops (U²-Net, the classifier, the diffusion U-Net) keep their single-process
sampling: every rank draws the same global batch from the same seeded generator (the same
order, crops and augmentations) and :meth:`Replica.part` keeps its own slice of it
(``DistributedSampler``'s interleaved split, rank ``r`` of ``w`` taking items ``r, r+w, ...``).
:meth:`Replica.scaled` weights each rank's mean loss by its share of the batch so that DDP's
gradient average is exactly the full-batch mean gradient, even when the last batch does not
divide evenly. Validation, checkpoints and MLflow logging happen on rank 0 only
(:attr:`Replica.main`).

BatchNorm statistics are per process (no SyncBatchNorm: gloo has none); the U²-Net recomputes
them on full images after every epoch anyway (precise BN).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Replica:
    """This process's place in data-parallel training (rank 0 of 1 when alone)."""
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def device(self, requested: str) -> str:
        """This rank's device: ``cuda`` -> ``cuda:<local rank>``; the CPU is shared."""
        return f"cuda:{self.local_rank}" if requested.startswith("cuda") and \
            self.distributed else requested

    def threads(self, n: int) -> int:
        """Torch threads per process when ``n`` are meant for the whole job."""
        return max(1, n // self.world)

    def part(self, x):
        """This rank's slice of a global batch (a tensor, array or list; first axis)."""
        return x[self.rank::self.world] if self.distributed else x

    def scaled(self, loss: torch.Tensor, n_local: int, n_global: int) -> torch.Tensor:
        """``loss`` (the mean over this rank's ``n_local`` items) weighted so that DDP's average
        over ranks equals the mean over all ``n_global`` items."""
        return loss * (n_local * self.world / n_global) if self.distributed else loss

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` under DistributedDataParallel (rank 0's weights broadcast to all)."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        dev = next(model.parameters()).device
        return DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)

    def share(self, obj):
        """Rank 0's ``obj`` on every rank (e.g. self-labels computed once)."""
        if not self.distributed:
            return obj
        box = [obj if self.main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()


SINGLE = Replica()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DDP wrapper (for evaluation, saving and BN recalibration)."""
    return getattr(model, "module", model)


def relaunch_under_torchrun(processes: int) -> None:
    """Run this very command under ``torchrun --standalone --nproc_per_node=processes`` and
    exit with its status (the caller is not yet under torchrun)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={processes}", *sys.argv]
    log.info("execution.train_processes=%d: relaunching under torchrun: %s", processes, cmd)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get(
        "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))}
    sys.exit(subprocess.call(cmd, env=env))


def start(processes: int = 1, device: str = "cpu") -> Replica:
    """This process's :class:`Replica`. Under torchrun (``WORLD_SIZE`` > 1) the process group
    is started (NCCL when ``device`` is a GPU, else gloo); with ``processes`` > 1 outside
    torchrun the script is relaunched under it (this call then does not return)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 and processes > 1 and "LOCAL_RANK" not in os.environ:
        relaunch_under_torchrun(processes)
    if world == 1:
        return SINGLE
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    gpu = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if gpu:
        torch.cuda.set_device(local)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if gpu else "gloo")
    log.info("DDP rank %d of %d (%s)", rank, world, "nccl" if gpu else "gloo")
    return Replica(rank, world, local)


def stop(rep: Replica) -> None:
    if rep.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
