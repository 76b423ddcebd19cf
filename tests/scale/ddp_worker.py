"""Run by tests/scale/test_ddp.py as ``python ddp_worker.py OUT``: ``distributed.start(2)``
relaunches it under ``torchrun --standalone --nproc_per_node=2`` (gloo), as a training stage
with ``execution.train_processes: 2`` does. Each rank then (1) takes a DDP gradient step
on its slice of an uneven batch of 7, (2) trains the four-head classifier one epoch under
DDP; rank 0 writes what the test checks to OUT (JSON)."""

import copy
import json
import sys

import numpy as np
import torch

from scalpvision.classification.data import Normalisation
from scalpvision.classification.params import ClassifierModelParams, ClassifierTrainParams
from scalpvision.classification.train import train_classifier
from scalpvision.ops import distributed

rep = distributed.start(2)
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                          torch.nn.Linear(4 * 6 * 6, 3))
ref = copy.deepcopy(net)
g = torch.Generator().manual_seed(1)
x, y = torch.randn(7, 3, 8, 8, generator=g), torch.randint(0, 3, (7,), generator=g)
ce = torch.nn.functional.cross_entropy
mine = rep.part(torch.arange(7))
ddp = rep.wrap(net)  # kept alive: its reducer averages the gradients during backward
rep.scaled(ce(ddp(x[mine]), y[mine]), len(mine), 7).backward()
ce(ref(x), y).backward()  # the single-process full-batch gradient
grad_diff = max(float((a.grad - b.grad).abs().max()) for a, b in zip(net.parameters(),
                                                                       ref.parameters()))
# one classifier epoch under DDP
rng = np.random.default_rng(0)
ims = rng.integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)
pads = np.zeros((16, 32, 32), bool)  # no letterbox padding
grades = rng.integers(0, 4, (16, 3))
val = (ims[:8], pads[:8], grades[:8], np.arange(8))
tp = ClassifierTrainParams(epochs=1, batch_size=4, lr=1e-3, weight_decay=0.01, eta_min=1e-5,
                           restart_epochs=2.0, t_mult=2, imbalance="none", focal_gamma=2.0,
                           variant="baseline", noise_std=0.05, augmented_manifest="", seed=0)
mp = ClassifierModelParams(backbone="test_resnet", checkpoint="", image_size=32)
model, rec = train_classifier(ims, pads, grades, val, mp, tp, norm=Normalisation.measure(ims, pads),
                              gate=0.5, progress=False, replica=rep)
digest = float(sum(p.double().sum() for p in model.parameters()))
digests = [None] * rep.world
torch.distributed.all_gather_object(digests, digest)
if rep.main:
    with open(sys.argv[1], "w") as fh:
        json.dump({"world": rep.world, "grad_max_diff": grad_diff, "grad_scale": float(max(
            p.grad.abs().max() for p in ref.parameters())), "history": rec["history"],
            "replica_digests": digests}, fh)
distributed.stop(rep)
