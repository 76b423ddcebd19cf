"""Parameters of the segmentation library, one frozen dataclass per part. They are the types
of the nested ``pseudo.draw``, ``u2net.train`` and ``segment.*`` sections of ``params.yaml``.

A field without a default is a setting: its value lives in ``params.yaml`` alone. A field
with a default is a library constant that no parameter file sets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptParams:
    """Algorithm 1: points and boxes from M̂ (``segment.prompts``)."""
    threshold: float  # binarises M̂ for the prompts
    min_area: int  # M̂ components smaller than this are noise (px)
    min_skeleton_area: int
    box: int  # b: side of the NMS boxes on the skeleton (px)
    nms_overlap: float
    n_negative: int
    negative_erosion: int  # px kept between negatives and the mask
    max_positive: int  # 0 = all
    min_elongation: float  # skeleton length^2 / area; below = blob (flake), 0 = off
    seed: int


@dataclass(frozen=True)
class RefinerParams:
    """The prompt-guided refiner that makes M_AP (``segment.refiner``)."""
    name: str  # auto (SAM when sam_checkpoint is set, else GrabCut) | sam | grabcut
    sam_model: str  # vit_b | vit_l | vit_h
    sam_checkpoint: str  # local .pth file; "" = none
    grabcut_iterations: int


@dataclass(frozen=True)
class EnsembleParams:
    """M = CC_{>=min_area}(M̂_t AND M_AP) (``segment.ensemble``)."""
    min_area: int
    threshold: float  # binarises the M̂ of the AND


@dataclass(frozen=True)
class BoundaryParams:
    """The boundary step after the AND (``segment.boundary``; not in the paper)."""
    band: int  # px inside M's edge that may leave M (0 with grow 0 = off)
    grow: int  # px outside M's edge that may join M
    window: int  # box for the local hair and scalp means (px, odd)
    hair_window: int  # smaller box for the hair mean, the hair at hand (px, odd; 0 = window)
    scalp_gap: int = 1  # scalp samples start this many px outside M (skips the mixed rim)
    min_samples: int = 4  # fewer samples of a class in the window: pixel left as it is

    @property
    def active(self) -> bool:
        return self.band > 0 or self.grow > 0


@dataclass(frozen=True)
class StrokeParams:
    """Line strokes added to M̂ AND M_AP (``segment.strokes``; not in the paper)."""
    threshold: float  # symmetric line contrast, grey levels; 0 = off
    min_length: int  # skeleton length of a stroke, px
    min_elongation: float  # skeleton length^2 / area of a stroke
    max_ratio: float  # Hessian curvature along / across the line, at most (1 = no blob test)
    sigmas: tuple[float, ...] = (1.0, 2.0, 3.0)  # line scales, px (hairs ~1-12 px wide)

    @property
    def active(self) -> bool:
        return self.threshold > 0


@dataclass(frozen=True)
class HairDrawParams:
    """How pseudo hairs are drawn into a hair-free patch (``pseudo.draw``)."""
    hairs_min: int
    hairs_max: int
    width_min: int
    width_max: int
    dots_min: int  # white dandruff-like dots, drawn into the image only
    dots_max: int
    blobs_max: int  # small flake blobs, image only
    plugs_max: int  # yellowish follicular-plug discs, image only
    alpha_min: float  # hair opacity drawn from [alpha_min, 1]
    shading_share: float  # share of hairs >= 3 px with a lighter core
    edge_blur_max: float  # Gaussian defocus sigma of the hair edges, up to
    relative_colour_share: float  # hairs coloured relative to the patch
    contrast_min: float  # grey-level contrast range of those hairs against the patch
    contrast_max: float
    light_share: float  # ... and the share of them lighter than the skin


@dataclass(frozen=True)
class U2NetTrainParams:
    """U²-Net training on the pseudo pairs (``u2net.train``)."""
    epochs: int
    batch_size: int
    lr: float
    rescale: int  # squash to rescale x rescale first; 0 = native resolution crops
    crop: int
    seed: int  # initial weights, crops and batches
    infer_long_side: int  # inference size (long side); the mask is resized back
    device: str  # auto | cpu | cuda
    dice_weight: float  # + soft Dice on each output; 0 = multi-BCE alone
    hair_crop_share: float  # share of crops centred on a hair pixel; 0 = uniform
    bn_recalibration_images: int  # full-size images for precise BN before validating
    lr_schedule: str  # constant | cosine (per step, to lr/100)
    photometric: float  # share of crops with image-only photometric jitter
    self_training_epochs: int  # epochs on self-labelled unlabelled images
    self_training_lr: float
