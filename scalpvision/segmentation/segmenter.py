"""The hair segmenter as one unit: U²-Net (M̂) -> Algorithm-1 prompts -> refiner (M_AP) ->
ensemble M = M̂ AND M_AP minus small components (paper §3.1, eq. 3)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from scalpvision.segmentation.morphology import binarize, remove_small_components
from scalpvision.segmentation.prompts import PromptParams, Prompts, prompts_from_mask
from scalpvision.segmentation.train import predict_prob


def ensemble(coarse: np.ndarray, refined: np.ndarray, min_area: int) -> np.ndarray:
    """M = CC_{>=min_area}(M̂ AND M_AP); (H, W) bool in and out."""
    return remove_small_components(coarse & refined, min_area)


@dataclass
class SegmentationResult:
    prob: np.ndarray  # (H, W) float32, U²-Net
    coarse: np.ndarray  # M̂, (H, W) bool
    prompts: Prompts
    refined: np.ndarray  # M_AP
    final: np.ndarray  # M
    seconds: dict = field(default_factory=dict)


class HairSegmenter:
    def __init__(self, u2net, refiner, prompt_params: PromptParams = PromptParams(),
                 ensemble_min_area: int = 100, long_side: int = 640):
        self.u2net, self.refiner = u2net.eval(), refiner
        self.prompt_params, self.ensemble_min_area = prompt_params, ensemble_min_area
        self.long_side = long_side

    def __call__(self, image: np.ndarray) -> SegmentationResult:
        t = {}
        t0 = time.perf_counter()
        prob = predict_prob(self.u2net, image, self.long_side)
        t["u2net"] = time.perf_counter() - t0
        pp = self.prompt_params
        coarse = remove_small_components(binarize(prob, pp.threshold), pp.min_area)
        t0 = time.perf_counter()
        prompts = prompts_from_mask(coarse, pp)
        t["prompts"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        refined = self.refiner.refine(image, prompts, coarse)
        t["refiner"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        final = ensemble(coarse, refined, self.ensemble_min_area)
        t["ensemble"] = time.perf_counter() - t0
        return SegmentationResult(prob, coarse, prompts, refined, final, t)
