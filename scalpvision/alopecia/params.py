"""Parameters of the alopecia models: the types of ``alopecia.gbm`` and ``alopecia.cnn``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GbmParams:
    learning_rate: float
    max_depth: int
    n_estimators: int
    subsample: float
    seed: int


@dataclass(frozen=True)
class CnnBaselineParams:
    backbone: str  # any timm model name
    checkpoint: str  # local ImageNet weights (timm checkpoint_path); "" = random init
    image_size: int  # short side; images keep their 4:3 aspect
    epochs: int
    batch_size: int
    lr: float
    class_weighted: bool
