"""Parameters of the diffusion augmentation (DiffuseIT-M, paper §3.3, Appendix B and D): the
types of ``diffusion.*`` (the denoising U-Net), ``guidance.*`` (the feature encoder the loss
is computed on) and ``augment.*`` (pairs, sampler, methods, evaluation).

Like every section type these have no defaults: the values live in ``params.yaml``."""

from __future__ import annotations

from dataclasses import dataclass

BACKBONES = ("trained", "diffusers", "adm")
ENCODERS = ("trained", "dino")
MODES = ("exact", "fast")
METHODS = ("diffuseit_m", "diffuseit", "sdedit")  # what a generation run can be
MASKS = ("inverse_hair", "hair", "zeros", "ones")  # the editable region m (paper Fig. 7)
COLOUR_MATCH = ("none", "scalp")


@dataclass(frozen=True)
class ScheduleParams:
    timesteps: int  # training steps of the forward process (ADM: 1000)
    beta_start: float  # linear beta schedule (ADM: 1e-4 -> 0.02)
    beta_end: float


@dataclass(frozen=True)
class UnetTrainParams:
    epochs: int
    batch_size: int
    lr: float  # AdamW
    max_t: int  # noise levels trained: original t in [0, max_t] (the sampler starts below it)
    crop_scale_min: float  # random crops of this share of the frame side and up (0-1), then resized
    seed: int


@dataclass(frozen=True)
class DiffusionParams:
    manifest: str
    splits: tuple[str, ...]  # trained: the train split it learns from, the val split it is scored on
    source: str  # trained (offline default) | diffusers (a local directory) | adm (a local .pt)
    path: str  # diffusers: directory with config.json + weights; adm: the guided-diffusion .pt
    adm_size: int  # adm: 256 (unconditional) or 512 (class-conditional)
    adm_class: int  # adm 512: the ImageNet class fed; -1 = a new uniform class every step (reference)
    width: int  # trained: the model's frame, px (4:3 like the source; divisible by 2^levels)
    height: int
    channels: tuple[int, ...]  # trained: U-Net channels per level
    layers_per_block: int
    attention_lowest: bool  # trained: self-attention at the lowest resolution
    schedule: ScheduleParams
    train: UnetTrainParams
    threads: int
    out_dir: str
    register_name: str

    def __post_init__(self):
        if self.source not in BACKBONES:
            raise ValueError(f"diffusion.source={self.source!r}; one of {BACKBONES}")
        if self.source != "trained" and not self.path:
            raise ValueError(f"diffusion.source={self.source} needs diffusion.path")
        if self.source == "adm" and self.adm_size not in (256, 512):
            raise ValueError(f"diffusion.adm_size={self.adm_size}; 256 or 512")
        f = 2 ** (len(self.channels) - 1)
        if self.source == "trained" and (self.width % f or self.height % f):
            raise ValueError(f"diffusion.width/height must be divisible by {f} "
                             f"({len(self.channels)} levels)")


@dataclass(frozen=True)
class EncoderTrainParams:
    patch: int  # ViT patch side, px
    dim: int
    depth: int
    heads: int
    epochs: int
    batch_size: int
    lr: float
    seed: int


@dataclass(frozen=True)
class GuidanceParams:
    manifest: str
    splits: tuple[str, ...]  # trained: the train split it learns from, the val split it is chosen on
    source: str  # trained (in-domain ViT on the train split's labels) | dino (a local timm checkpoint)
    dino_model: str  # timm name: vit_small_patch8_224.dino | vit_base_patch8_224.dino
    checkpoint: str  # dino: the local weights file
    short_side: int  # encoder input: short side, px, 4:3 kept (dino: 224; trained: its frame height)
    train: EncoderTrainParams
    threads: int
    out_dir: str

    def __post_init__(self):
        if self.source not in ENCODERS:
            raise ValueError(f"guidance.source={self.source!r}; one of {ENCODERS}")
        if self.source == "dino" and not self.checkpoint:
            raise ValueError("guidance.source=dino needs guidance.checkpoint (a local file)")


@dataclass(frozen=True)
class PairParams:
    n_pairs: int  # pairs drawn per round x rounds (paper: 1000 x 50)
    rounds: int  # outer iterations; inverse-frequency weights recomputed on the grown set each round
    more_severe: bool  # targets never milder in any condition, and worse in one (paper text; its code: no)
    seed: int


@dataclass(frozen=True)
class LossWeights:
    style: float  # λ_sty: CLS of x̂ vs the target's (paper: 2000)
    mse: float  # λ_mse: pixel style, x̂ vs the target (paper: 3000)
    ssim: float  # λ_ssim: key self-similarity vs the source (paper: 1000)
    contra: float  # λ_contra: patch-NCE on keys vs the source (paper: 200)
    sem: float  # λ_sem: semantic divergence from the previous step, early steps only (paper: 100)
    range: float  # λ_range: x̂0 outside [-1, 1] (paper: 200)
    mask: float  # λ_mask: masked x̂ vs the masked source (paper: 1000)


@dataclass(frozen=True)
class SamplerParams:
    mode: str  # exact (the paper's sampler, waste removed) | fast (MPGD: x̂0 gradient, DDIM)
    respacing: int  # respaced steps (paper: 200)
    skip: int  # respaced steps skipped: start at index respacing - skip - 1 (paper: 80)
    first_step_repeats: int  # RePaint-style repeats of the first step (reference code: 10)
    sem_until: int  # L_sem active while the respaced index > this (paper: 100)
    noise_aug: bool  # losses on s·x̂0 + (1-s)·x_t, s = sqrt(1 - ᾱ_t) (reference: on)
    contra_tau: float  # patch-NCE temperature (paper: 0.07)
    range_threshold: float  # range loss above which the trajectory restarts (paper: 0.01)
    max_restarts: int  # cap on range restarts (reference: unbounded)
    fast_steps: int  # fast mode: DDIM steps from the start level to 0
    fast_step_size: float  # fast mode: x̂0 step, in units of the gradient's RMS, times sqrt(1-ᾱ_t)
    fast_eta: float  # fast mode: DDIM eta (0 = deterministic after the start noise)
    weights: LossWeights

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"augment.sampler.mode={self.mode!r}; one of {MODES}")
        if not 0 <= self.skip < self.respacing:
            raise ValueError("augment.sampler.skip must lie in [0, respacing)")


@dataclass(frozen=True)
class AugmentEvalParams:
    pairs: int  # pairs every method and ablation is generated for and compared on
    ablation_mode: str  # the sampler mode of the mode ablation's other arm (exact when bulk is fast)
    masks: tuple[str, ...]  # mask ablation (paper Fig. 7) on the evaluation pairs
    kid_subset: int  # KID subset size (<= the smaller set)
    kid_subsets: int
    inception_checkpoint: str  # local torch-fidelity Inception weights: adds FID; "" = none
    lpips_checkpoint: str  # local torchvision VGG16 weights: adds LPIPS and LPIPS in L_mask; "" = none
    contact_rows: int


@dataclass(frozen=True)
class AugmentParams:
    manifest: str
    masks_dir: str  # the hair masks M of the sources (sources are the train images that have one)
    train_split: str
    methods: tuple[str, ...]  # augmented sets generated for the classifier (DVC outputs)
    mask: str  # editable region of the method: inverse_hair (1 - M, the paper) | hair | zeros | ones
    colour_match: str  # none | scalp (MKL transfer to the target, scalp pixels only)
    pairs: PairParams
    sampler: SamplerParams
    eval: AugmentEvalParams
    batch_size: int
    seed: int
    threads: int
    out_dir: str
    report_dir: str
    classifier_variants: tuple[str, ...]  # the loop: CNN + each of these (a set in methods, gaussian, augmix)
    classifier_report_dir: str  # ... compared in Table 2 with the CNN on real images only

    def __post_init__(self):
        for m in self.methods:
            if m not in METHODS:
                raise ValueError(f"augment.methods: {m!r}; each one of {METHODS}")
        for m in (self.mask, *self.eval.masks):
            if m not in MASKS:
                raise ValueError(f"augment mask {m!r}; one of {MASKS}")
        for v in self.classifier_variants:
            if v not in (*self.methods, "gaussian", "augmix"):
                raise ValueError(f"augment.classifier_variants: {v!r}; a method in "
                                 "augment.methods, gaussian or augmix")
        if self.colour_match not in COLOUR_MATCH:
            raise ValueError(f"augment.colour_match={self.colour_match!r}; one of {COLOUR_MATCH}")
        if self.eval.ablation_mode not in MODES:
            raise ValueError(f"augment.eval.ablation_mode; one of {MODES}")
