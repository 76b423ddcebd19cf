"""DDP under torchrun: two gloo processes on this CPU, started the way a training stage with
``execution.train_processes: 2`` starts them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scalpvision.ops.distributed import SINGLE, Replica

pytestmark = pytest.mark.scale
WORKER = Path(__file__).with_name("ddp_worker.py")


def test_replica_slices_and_weights():
    r0, r1 = Replica(0, 2), Replica(1, 2)
    assert list(r0.part(list(range(7)))) == [0, 2, 4, 6] and list(r1.part(range(7))) == [1, 3, 5]
    # mean losses weighted by share: averaging over ranks gives the full-batch mean
    assert np.isclose((r0.scaled(1.0, 4, 7) + r1.scaled(1.0, 3, 7)) / 2, 1.0)
    assert SINGLE.part([1, 2]) == [1, 2] and SINGLE.scaled(2.0, 3, 7) == 2.0 and SINGLE.main
    assert r1.device("cuda") == "cuda:0" and r1.device("cpu") == "cpu" and r1.threads(2) == 1


def test_two_gloo_processes_match_the_full_batch_and_train_the_classifier(tmp_path):
    out = tmp_path / "ddp.json"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    r = subprocess.run([sys.executable, str(WORKER), str(out)], env={**env, "OMP_NUM_THREADS": "1"},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    res = json.loads(out.read_text())
    assert res["world"] == 2  # relaunched under torchrun by distributed.start(2)
    # the averaged DDP gradient of an uneven split (4 + 3 of 7) is the full-batch gradient
    assert res["grad_scale"] > 1e-3 and res["grad_max_diff"] < 1e-6 * max(1, res["grad_scale"])
    (h,) = res["history"]
    assert h["epoch"] == 1 and np.isfinite(h["loss"]) and 0 <= h["val_macro_f1"] <= 1
    a, b = res["replica_digests"]
    assert a == pytest.approx(b, rel=1e-9, abs=1e-9)  # the replicas stayed in step
