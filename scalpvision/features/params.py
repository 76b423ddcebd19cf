"""Parameters of the hair-feature library. :class:`CountParams` is the type of the
``features.count`` section; a field with a default is a library constant (reference-method.md
§6-7 for the paper's), one without is set in ``params.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field

COUNT_METHODS = ("strands", "hough")
WIDTH_EDGES = ("image", "mask")


@dataclass(frozen=True)
class StrandParams:
    # shorter strands are crossing fragments (px); chosen on the train split (docs/decisions.md)
    min_strand_length: int
    continue_angle_deg: float  # pair branches that leave a crossing this close to opposite
    junction_scale: float  # crossing disc: this many local radii, at least junction_radius px
    bridge_scale: float  # a branch between crossings shorter than this x their overlap: two hairs on each other
    split_scale: float  # a branch between crossings shorter than this many radii: one crossing
    # an end a crossing leaves unpaired goes on to a facing in-line unpaired end this many hair
    # radii away (at least through_px), the line between them in the mask; 0 = off
    through_scale: float
    # a hair's width: the mean of its samples at most this x their median (wider ones are merged
    # with a neighbour or cut obliquely; nothing narrows a single hair's cross-section)
    merged_ratio: float
    # where a width sample of a segmenter's mask puts the hair's edges, given the frame: "image"
    # - half-way between the hair's and the skin's colour across it (full width at half
    # maximum; the mask's edge where the image has too little contrast), "mask" - the mask's
    # own edge (paper eq. 7). A ground-truth mask is measured alone: its edge is the hair's
    width_edge: str
    min_area: int = 150
    junction_radius: int = 3  # px
    direction_radius: float = 14.0  # px: branch pixels this near its end give its direction, or
    direction_scale: float = 4.0  # ... this many radii when more, ...
    direction_skip: float = 2.0  # ... beyond this many radii from the crossing (forks bend)
    spur_length: int = 20  # px: a junction-to-tip branch shorter than this is a spur, or ...
    spur_scale: float = 3.0  # ... shorter than this many radii at its junction
    through_px: float = 40.0  # px: the least reach of ``through_scale``
    through_lateral: float = 0.05  # off-line slack of a through join per px of its length
    through_share: float = 0.95  # share of a through join's line that must lie in the mask
    gap_px: float = 12.0  # px: facing free tips this close are one hair broken in two, or ...
    gap_scale: float = 3.0  # ... this many radii when more
    gap_angle_deg: float = 25.0  # both tips point at each other within this angle
    hidden_gap_px: float = 160.0  # px: a gap may be this long where capture graphics hide it
    clear_scale: float = 1.5  # no width sample this many radii (+2 px) from crossings, tips, edge

    def __post_init__(self):
        if self.width_edge not in WIDTH_EDGES:
            from scalpvision.errors import BadInputError

            raise BadInputError(f"unknown width_edge {self.width_edge!r}; valid: "
                                f"{', '.join(WIDTH_EDGES)}")


@dataclass(frozen=True)
class HoughScale:
    factor: float  # image scale (2 = double resolution)
    min_area: int
    skel_min_area: int
    threshold: int
    min_line_length: int
    max_line_gap: int


PAPER_SCALES = (  # reference-method.md §6 table
    HoughScale(2.0, 300, 25, 100, 60, 100),
    HoughScale(1.0, 150, 10, 100, 30, 60),
    HoughScale(0.5, 30, 5, 70, 10, 20),
)


@dataclass(frozen=True)
class CountParams:
    method: str  # strands | hough (paper)
    strands: StrandParams
    scales: tuple[HoughScale, ...] = PAPER_SCALES
    rho: float = 5.0  # reference value (px)
    border: float = 3.0
    dup_cos: float = 0.9  # hough: |cos| above this and ...
    dup_dist: float = 30.0  # ... endpoint distance below this (original px) = duplicate

    def __post_init__(self):
        if self.method not in COUNT_METHODS:
            from scalpvision.errors import BadInputError

            raise BadInputError(f"unknown count method {self.method!r}; valid: "
                                f"{', '.join(COUNT_METHODS)}")


@dataclass(frozen=True)
class ThicknessParams:
    box: int = 20
    nms_overlap: float = 0.1
    min_area: int = 250  # mask components below this are ignored (reference: 250)
    min_skeleton_area: int = 5  # skeleton components below this are ignored (reference: 5)
    max_half_width: float = 40.0  # search length on each side, px
    step: float = 0.1  # sampling step along the perpendicular, px
    n_lines: int = 7  # parallel perpendiculars per box ...
    spread: float = 3.0  # ... spread over +-spread px along the hair
    min_box_pixels: int = 3  # skeleton pixels needed in a box for a direction
    edge_margin: float = 0.5  # image edges: searched within the mask's edge +- this, px ...
    edge_min_contrast: float = 8.0  # ... where hair and skin differ by at least this (CIELAB dE)
    blur_reach: float = 2.0  # blur: 20-80 % edge rises read within the mask edge + this, px ...
    blur_min_contrast: float = 20.0  # ... on samples of at least this contrast (CIELAB dE) ...
    blur_quantile: float = 0.5  # ... whose FWHM is at least this quantile of the image's ...
    blur_min_samples: int = 5  # ... when there are this many; else no blur is corrected


__all__ = ["COUNT_METHODS", "WIDTH_EDGES", "StrandParams", "HoughScale", "PAPER_SCALES",
           "CountParams", "ThicknessParams", "field"]
