"""Adaptive batching of the segmenter's U²-Net in the service: a stand-in network whose
``predict`` hands each request's tensor to a BentoML ``batchable`` call, where concurrent
requests are stacked into one forward pass (``serve.batching``). Tensors of another shape
than the batch's (an upload the service did not resize) stay on the local network."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from scalpvision.segmentation.inference import INFER_PAD, infer_size


def batch_shape(width: int, height: int, long_side: int, pad: int = INFER_PAD
                ) -> tuple[int, int, int]:
    """The network input (C, H, W) of a ``width`` x ``height`` image, as ``predict_prob``
    makes it: every batched tensor has this shape."""
    (w, h), _ = infer_size(height, width, long_side)
    return 3, h + 2 * pad, w + 2 * pad


class RemoteNet:
    """``predict(x: (1, 3, H, W) float32) -> (1, 1, H, W)`` through ``call`` (the batchable
    endpoint), or through ``local`` when ``x`` is not of ``shape``."""

    def __init__(self, call: Callable[[np.ndarray], np.ndarray], local, shape: tuple[int, ...]):
        self.call, self.local, self.shape = call, local, tuple(shape)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.shape:
            return self.local.predict(x)
        return torch.from_numpy(np.asarray(self.call(x.cpu().numpy().astype(np.float32))))


class BatchLog:
    """The sizes of the batches a batchable endpoint was called with."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.sizes.append(int(n))

    def stats(self) -> dict:
        with self._lock:
            s = list(self.sizes)
        return {"batches": len(s), "images": int(sum(s)), "largest": max(s, default=0),
                "mean": round(float(np.mean(s)), 2) if s else 0.0,
                "histogram": {str(k): s.count(k) for k in sorted(set(s))}}
