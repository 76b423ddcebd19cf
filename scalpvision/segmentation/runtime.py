"""Where U²-Net inference runs: PyTorch, or ONNX Runtime on the CPU.

On a CPU, ONNX Runtime runs U²-Net-lite at 640×480 about twice as fast as PyTorch's eager
oneDNN convolutions (see benchmarks/). The ONNX graph is exported from the model in memory when
the segmenter is built (about 1.5 s, no file written), so a model directory stays one format
and the two runtimes always hold the same weights; outputs agree to ~1e-5.

``runtime="auto"`` takes ONNX Runtime when the model is on the CPU and ``onnxruntime`` and
``onnx`` import; otherwise (a GPU model, a slim install) it stays with PyTorch and logs why.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import torch

from scalpvision.errors import BadInputError

log = logging.getLogger(__name__)
RUNTIMES = ("auto", "onnxruntime", "torch")


class _FusedProbability(torch.nn.Module):
    """U²-Net -> sigmoid of the fused output d0, the one map inference needs."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):  # (B, 3, H, W) -> (B, 1, H, W)
        return torch.sigmoid(self.model(x)[0])


class OnnxU2Net:
    """A U²-Net exported to ONNX and run by an ``onnxruntime.InferenceSession``. Same
    ``predict`` contract as :meth:`U2Net.predict`: (B, 3, H, W) float32 tensor, H and W free,
    -> (B, 1, H, W) hair probability."""

    name = "onnxruntime"

    def __init__(self, model: torch.nn.Module, threads: int = 0):
        import onnxruntime as ort

        buf = io.BytesIO()
        was_training = model.training
        wrapped = _FusedProbability(model).eval()  # eval() reaches the model: BN uses its stats
        try:
            torch.onnx.export(wrapped, (torch.zeros(1, 3, 64, 96),), buf, dynamo=False,
                              input_names=["x"], output_names=["prob"], opset_version=17,
                              dynamic_axes={"x": {0: "b", 2: "h", 3: "w"},
                                            "prob": {0: "b", 2: "h", 3: "w"}})
        finally:
            model.train(was_training)  # the exporter restores modes from the wrapper's flag
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        # no busy-waiting between ops: the refiner of the previous image runs in parallel
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(buf.getvalue(), opts,
                                            providers=["CPUExecutionProvider"])

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {"x": x})[0])


def inference_model(model: torch.nn.Module, runtime: str = "auto", threads: int = 0):
    """The object :func:`scalpvision.segmentation.train.predict_prob` runs: ``model`` itself
    (``torch``) or an :class:`OnnxU2Net` of it (``onnxruntime``; ``auto``: when possible)."""
    if runtime not in RUNTIMES:
        raise BadInputError(f"unknown U²-Net runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
    if runtime == "torch":
        return model
    on_cpu = next(model.parameters()).device.type == "cpu"
    if runtime == "onnxruntime" and not on_cpu:
        raise BadInputError("runtime 'onnxruntime' runs CPU models only; use 'torch' or 'auto'")
    if runtime == "auto" and not on_cpu:
        return model
    try:
        return OnnxU2Net(model, threads)
    except ImportError as exc:
        if runtime == "onnxruntime":
            raise ImportError(f"runtime 'onnxruntime' needs the onnx and onnxruntime packages: "
                              f"{exc}") from exc
        log.info("U²-Net on PyTorch: %s", exc)
        return model


def runtime_name(model) -> str:
    """``onnxruntime`` or ``torch``: what an inference model from :func:`inference_model` is."""
    return OnnxU2Net.name if isinstance(model, OnnxU2Net) else "torch"
