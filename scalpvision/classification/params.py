"""Parameters of the scalp-condition classifier: the types of ``classifier.*``.

Like every section type these have no defaults: the values live in ``params.yaml``."""

from __future__ import annotations

from dataclasses import dataclass

IMBALANCE = ("none", "weighted", "focal")
VARIANTS = ("baseline", "gaussian", "augmix", "manifest")


@dataclass(frozen=True)
class ClassifierModelParams:
    backbone: str  # timm model name (densenet169, efficientformerv2_s1, resnet50, ...)
    checkpoint: str  # local backbone weights (timm pretrained_cfg_overlay file); "" = random init
    image_size: int  # square input side, px; the 4:3 frame is letterboxed (padded), not squashed


@dataclass(frozen=True)
class ClassifierTrainParams:
    epochs: int
    batch_size: int
    lr: float  # AdamW learning rate (paper: 1e-4)
    weight_decay: float  # AdamW weight decay (paper: 0.01, AdamW's default)
    eta_min: float  # floor of the cosine warm restarts (paper: 1e-5)
    restart_epochs: float  # first restart period T_0, epochs (stepped per iteration)
    t_mult: int  # period multiplier after each restart (paper: 2)
    imbalance: str  # none (paper) | weighted (inverse frequency) | focal
    focal_gamma: float  # focusing parameter when imbalance = focal
    variant: str  # baseline | gaussian | augmix | manifest (an augmented set joined by manifest)
    noise_std: float  # Gaussian-noise variant: std on [0, 1] pixels
    augmented_manifest: str  # manifest variant: CSV of source, target, labels, image path
    seed: int

    def __post_init__(self):
        if self.imbalance not in IMBALANCE:
            raise ValueError(f"classifier.train.imbalance={self.imbalance!r}; one of {IMBALANCE}")
        if self.variant not in VARIANTS:
            raise ValueError(f"classifier.train.variant={self.variant!r}; one of {VARIANTS}")
        if self.variant == "manifest" and not self.augmented_manifest:
            raise ValueError("classifier.train.variant=manifest needs augmented_manifest")
