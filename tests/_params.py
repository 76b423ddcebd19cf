"""The repository's parameters for tests: every setting comes from params.yaml (or its paper
profile); a test states what it changes with :func:`with_`."""

from dataclasses import replace
from pathlib import Path

from scalpvision.config import load_params

REPO = Path(__file__).resolve().parents[1]
PARAMS = load_params(REPO / "params.yaml")
PAPER = load_params(REPO / "params.yaml", profile="paper")


def with_(obj, **changes):
    return replace(obj, **changes)


def prompts(**kw):
    """Algorithm 1 as configured, binarising at the paper's 0.5 unless a test says otherwise."""
    return replace(PARAMS.segment.prompts, **{"threshold": 0.5, **kw})


def boundary(band=0, grow=0, window=25, **kw):
    return replace(PARAMS.segment.boundary, band=band, grow=grow, window=window, **kw)


def strokes(**kw):
    """The line-stroke step as configured (``segment.strokes``), with a test's changes."""
    return replace(PARAMS.segment.strokes, **kw)


def ensemble(min_area=100, threshold=None, prompt_threshold=0.5):
    return replace(PARAMS.segment.ensemble, min_area=min_area,
                   threshold=prompt_threshold if threshold is None else threshold)


def draw(*args, **kw):
    """The paper's drawing (opaque, flat, sharp hairs); positional values set the fields in
    their order (hairs_min, hairs_max, width_min, ...)."""
    from dataclasses import fields

    names = [f.name for f in fields(PAPER.pseudo.draw)]
    return replace(PAPER.pseudo.draw, **dict(zip(names, args)), **kw)


def train(**kw):
    return replace(PAPER.u2net.train, rescale=0, device="cpu", **kw)


def gbm(**kw):
    return replace(PARAMS.alopecia.gbm, **kw)


def count(method=None, min_strand_length=None):
    c = PARAMS.features.count
    if method is not None:
        c = replace(c, method=method)
    if min_strand_length is not None:
        c = replace(c, strands=replace(c.strands, min_strand_length=min_strand_length))
    return c


def refiner(name="grabcut", **kw):
    return replace(PARAMS.segment.refiner, name=name, **kw)
