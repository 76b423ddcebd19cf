"""The hair segmenter as one unit: U²-Net (M̂) -> Algorithm-1 prompts -> refiner (M_AP) ->
ensemble M = M̂ AND M_AP minus small components (paper §3.1, eq. 3).

The M̂ of the AND may be binarised at its own, lower threshold (``ensemble_threshold``): the
refiner is the precise part, and the AND then only vetoes what U²-Net is sure is not hair
instead of also cutting the faint hairs it is unsure of. The paper uses one threshold (0.5).

Before any of it, the frame's analysed area (:mod:`scalpvision.segmentation.area`: the field
of view minus capture-software graphics) is found; U²-Net's output is zeroed outside it, so no
prompt, no refined pixel and no hair of M lies on a status strip or overlay circle.

Two optional steps follow the AND (neither is in the paper): line strokes
(:mod:`scalpvision.segmentation.strokes`) add the long hair-shaped lines of the image the AND
lost (faint, grey and white hairs), then the boundary step
(:mod:`scalpvision.segmentation.boundary`) sets the pixels along M's edge by the nearer local
colour, hair or scalp. ``ensembled`` keeps the AND before both, so the evaluation reports
each."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalpvision.morphology import binarize, remove_small_components
from scalpvision.segmentation.area import AnalysedArea, analysed_area
from scalpvision.segmentation.boundary import refine_boundary
from scalpvision.segmentation.inference import predict_prob
from scalpvision.segmentation.params import (
    BoundaryParams, EnsembleParams, PromptParams, StrokeParams,
)
from scalpvision.segmentation.prompts import Prompts, prompts_from_mask
from scalpvision.segmentation.strokes import line_strokes


def ensemble(coarse: np.ndarray, refined: np.ndarray, min_area: int) -> np.ndarray:
    """M = CC_{>=min_area}(M̂ AND M_AP); (H, W) bool in and out."""
    return remove_small_components(coarse & refined, min_area)


def _settle(key, future, failure):
    return key, (future.result() if future is not None else failure)


@dataclass
class SegmentationResult:
    prob: np.ndarray  # (H, W) float32, U²-Net
    coarse: np.ndarray  # M̂, (H, W) bool: the prompt source
    prompts: Prompts
    refined: np.ndarray  # M_AP
    final: np.ndarray  # M
    gate: np.ndarray  # the M̂ of the AND (``coarse`` unless ensemble_threshold differs)
    ensembled: np.ndarray  # M̂ AND M_AP before the strokes and the boundary step
    area: AnalysedArea | None = None  # the analysed area every mask above lies in
    strokes: np.ndarray | None = None  # the line strokes added to the AND (None: step off)
    seconds: dict = field(default_factory=dict)


class HairSegmenter:
    """``u2net``: a torch U²-Net or its ONNX Runtime twin; ``refiner``: see ``refiners.py``;
    ``long_side``: U²-Net's inference size (px, long side); ``strokes``: the line-stroke step
    (None or inactive: off; kept as None then)."""

    def __init__(self, u2net, refiner, prompt_params: PromptParams, ensemble: EnsembleParams,
                 boundary: BoundaryParams, long_side: int, strokes: StrokeParams | None = None):
        self.u2net, self.refiner = u2net, refiner  # predict_prob puts a torch model in eval
        self.prompt_params, self.ensemble_params = prompt_params, ensemble
        self.ensemble_min_area = ensemble.min_area
        self.long_side = long_side
        self.ensemble_threshold = ensemble.threshold
        self.boundary = boundary
        self.strokes = strokes if strokes is not None and strokes.active else None

    def combine(self, image: np.ndarray, gate: np.ndarray, refined: np.ndarray,
                strokes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(M̂ AND M_AP, M): the ensemble, with ``strokes`` added, then the boundary step
        when it is on."""
        ensembled = ensemble(gate, refined, self.ensemble_min_area)
        joined = ensembled if strokes is None else ensembled | strokes
        if not self.boundary.active:
            return ensembled, joined
        return ensembled, remove_small_components(
            refine_boundary(image, joined, self.boundary), self.ensemble_min_area)

    def __call__(self, image: np.ndarray) -> SegmentationResult:
        t0 = time.perf_counter()
        prob = predict_prob(self.u2net, image, self.long_side)
        return self._finish(image, prob, {"u2net": time.perf_counter() - t0})

    def map(self, items: Iterable[tuple[Any, np.ndarray | Exception]]
            ) -> Iterator[tuple[Any, SegmentationResult | Exception]]:
        """Segment a stream of ``(key, image)`` in order, yielding ``(key, result)``. The
        refiner of one image runs in a worker thread while U²-Net runs on the next (OpenCV and
        torch both release the GIL), so a folder goes faster than calling the segmenter image
        by image. An item whose image is an exception (an unreadable file) is passed through,
        and an image that fails inside the segmenter yields its exception: the batch goes on."""
        def finish(image, prob, t):
            try:
                return self._finish(image, prob, t)
            except Exception as exc:  # noqa: BLE001 - reported per image by the caller
                return exc

        with ThreadPoolExecutor(1) as pool:
            pending = None
            for key, image in items:
                fut = None
                if not isinstance(image, Exception):
                    t0 = time.perf_counter()
                    try:
                        prob = predict_prob(self.u2net, image, self.long_side)
                        fut = pool.submit(finish, image, prob, {"u2net": time.perf_counter() - t0})
                    except Exception as exc:  # noqa: BLE001
                        image = exc
                if pending is not None:
                    yield _settle(*pending)
                pending = (key, fut, image)
            if pending is not None:
                yield _settle(*pending)

    def _finish(self, image: np.ndarray, prob: np.ndarray, t: dict) -> SegmentationResult:
        pp = self.prompt_params
        t0 = time.perf_counter()
        area = analysed_area(image)
        prob = np.where(area.mask, prob, 0).astype(prob.dtype)
        t["area"] = time.perf_counter() - t0

        def mhat(threshold: float) -> np.ndarray:
            return remove_small_components(binarize(prob, threshold), pp.min_area)

        coarse = mhat(pp.threshold)
        t0 = time.perf_counter()
        prompts = prompts_from_mask(coarse, pp)
        t["prompts"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        refined = self.refiner.refine(image, prompts, coarse)
        t["refiner"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        gate = coarse
        if self.ensemble_threshold not in (None, pp.threshold):
            gate = mhat(self.ensemble_threshold)
        strokes = None
        if self.strokes is not None:
            strokes = line_strokes(image, area.mask, self.strokes)
            t["strokes"] = time.perf_counter() - t0
            t0 = time.perf_counter()
        ensembled, final = self.combine(image, gate, refined, strokes)
        final = final & area.mask  # the boundary step may grow M by a few px
        t["ensemble"] = time.perf_counter() - t0
        return SegmentationResult(prob, coarse, prompts, refined, final, gate, ensembled, area,
                                  strokes, t)
