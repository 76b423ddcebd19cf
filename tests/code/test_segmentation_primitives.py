"""Morphology, Algorithm-1 prompts, metrics and baselines on tiny synthetic inputs."""

import time

import cv2
import numpy as np
import pytest

from scalpvision.segmentation.baselines import BASELINES
from scalpvision.segmentation.metrics import segmentation_scores
from scalpvision.morphology import (
    binarize, box_nms_points, remove_small_components, skeletonize,
)
from _params import PARAMS, boundary, refiner
from _params import ensemble as ensemble_params
from _params import prompts as prompt_params
from scalpvision.segmentation.prompts import make_prompts


def _line_mask(h=480, w=640, p0=(50, 60), p1=(600, 400), width=7):
    m = np.zeros((h, w), np.uint8)
    cv2.line(m, p0, p1, 1, width)
    return m.astype(bool)


def test_binarize_and_small_components():
    prob = np.zeros((20, 20), np.float32)
    prob[2:4, 2:4] = 0.9  # 4 px
    prob[10:18, 10:18] = 0.6  # 64 px
    prob[0, 19] = 0.5  # not above threshold
    m = binarize(prob, 0.5)
    assert m.sum() == 68
    kept = remove_small_components(m, 10)
    assert kept.sum() == 64 and not kept[2, 2]
    assert np.array_equal(binarize((prob * 255).astype(np.uint8), 0.5), m)


def test_skeleton_is_thin_and_on_the_mask():
    m = _line_mask()
    sk = skeletonize(m)
    assert sk.sum() < m.sum() / 4 and (sk <= m).all() and sk.any()


def test_nms_spacing_along_a_line_is_the_box_size():
    pts = np.stack([np.arange(300), np.full(300, 50)], 1)
    kept = np.sort(pts[box_nms_points(pts, 10, 0.1)][:, 0])
    assert np.all(np.diff(kept) == 10)  # reference §14: 10 px apart for b = 10
    kept20 = np.sort(pts[box_nms_points(pts, 20, 0.1)][:, 0])
    assert np.all(np.diff(kept20) == 19)


def test_nms_pixel_raster_matches_the_dense_pass():
    """Pixel points take the suppression-raster path: the surviving boxes must be those of the
    plain greedy pass (every kept box against every point), for any box size and overlap."""
    def dense(pts, box, overlap):
        side, alive, keep = box + 1.0, np.ones(len(pts), bool), []
        for i in np.lexsort((-pts[:, 0], -pts[:, 1])):
            if alive[i]:
                keep.append(i)
                ov = (np.clip(side - np.abs(pts[:, 0] - pts[i, 0]), 0, None)
                      * np.clip(side - np.abs(pts[:, 1] - pts[i, 1]), 0, None)) / side**2
                alive &= ~(ov > overlap)
        return keep

    rng = np.random.default_rng(0)
    for box, overlap in ((10, 0.1), (20, 0.1), (11, 0.3), (10, 0.0), (7, 0.6)):
        pts = rng.integers(0, 120, (500, 2)).astype(float)
        assert list(box_nms_points(pts, box, overlap)) == dense(pts, box, overlap)


def test_prompts_positives_on_hair_negatives_off_hair():
    m = _line_mask() | _line_mask(p0=(600, 40), p1=(80, 300), width=4)
    prompts = make_prompts(m.astype(np.float32), prompt_params(n_negative=30, seed=1))
    pos, neg = prompts.positive_xy, prompts.negative_xy
    assert len(pos) > 20 and len(neg) == 30
    xi, yi = np.round(pos).astype(int).T
    assert m[yi, xi].mean() > 0.95
    dist = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, 5)
    nx, ny = neg.astype(int).T
    assert (dist[ny, nx] >= 7).all()  # eroded inverse: at least 7 px from any hair
    xy, lab = prompts.as_sam()
    assert xy.shape == (len(pos) + 30, 2) and lab.sum() == len(pos)
    again = make_prompts(m.astype(np.float32), prompt_params(n_negative=30, seed=1))
    assert np.array_equal(again.negative_xy, neg)


def test_prompts_on_blank_mask_are_empty_not_nan():
    p = make_prompts(np.zeros((480, 640), np.float32), prompt_params())
    assert p.positive_xy.shape == (0, 2) and len(p.negative_xy) == 20
    assert not np.isnan(p.negative_xy).any()


def test_prompt_generation_is_fast_enough_for_a_dense_mask():
    m = np.zeros((480, 640), bool)
    rng = np.random.default_rng(0)
    for _ in range(40):
        m |= _line_mask(p0=tuple(rng.integers(0, 640, 2)), p1=tuple(rng.integers(0, 480, 2)),
                        width=int(rng.integers(2, 9)))
    make_prompts(m.astype(np.float32), prompt_params())
    t = time.perf_counter()
    make_prompts(m.astype(np.float32), prompt_params())
    assert time.perf_counter() - t < 1.0  # loose guard; the 50 ms target is in benchmarks/


def test_metrics_against_hand_counts():
    truth = np.zeros((4, 4), bool)
    truth[0, :2] = True  # 2 px
    pred = np.zeros((4, 4), bool)
    pred[0, 1:3] = True  # tp 1, fp 1, fn 1, tn 13
    s = segmentation_scores(pred, truth)
    assert s["dice"] == pytest.approx(0.5) and s["jaccard"] == pytest.approx(1 / 3)
    bg_f1 = 2 * 13 / (2 * 13 + 1 + 1)
    assert s["pixel_f1_macro"] == pytest.approx((0.5 + bg_f1) / 2)
    empty = np.zeros((4, 4), bool)
    assert segmentation_scores(empty, empty)["dice"] == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        segmentation_scores(empty, np.zeros((3, 4), bool))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_find_dark_hair_on_light_skin(name):
    img = np.full((240, 320, 3), (220, 180, 160), np.uint8)
    img = (img + np.random.default_rng(0).normal(0, 4, img.shape)).clip(0, 255).astype(np.uint8)
    truth = _line_mask(240, 320, (20, 30), (300, 200), 5)
    img[truth] = (40, 30, 25)
    pred = BASELINES[name](img)
    assert pred.shape == truth.shape and pred.dtype == bool
    assert segmentation_scores(pred, truth)["dice"] > 0.7


def test_no_positive_prompts_on_round_blobs():
    m = _line_mask(width=5)
    blob = np.zeros_like(m)
    cv2.circle(blob.view(np.uint8), (500, 100), 20, 1, -1)
    pos = make_prompts((m | blob).astype(np.float32), prompt_params()).positive_xy
    assert len(pos) > 10
    assert not blob[np.round(pos[:, 1]).astype(int), np.round(pos[:, 0]).astype(int)].any()
    bar = np.zeros_like(m)  # a thick square: the paper's Algorithm 1 prompts it, we don't
    cv2.rectangle(bar.view(np.uint8), (100, 380), (140, 420), 1, -1)  # clear of the line
    legacy = make_prompts((m | bar).astype(np.float32), prompt_params(min_elongation=0))
    xy = np.round(legacy.positive_xy).astype(int)
    assert bar[xy[:, 1], xy[:, 0]].any()
    xy = make_prompts((m | bar).astype(np.float32), prompt_params()).positive_xy
    xy = np.round(xy).astype(int)
    assert not bar[xy[:, 1], xy[:, 0]].any()


def test_segmenter_map_keeps_order_passes_failures_and_matches_single_calls():
    """The pipelined map gives, in input order, exactly what one call per image gives; an
    unreadable item and an image that breaks the segmenter come back as their errors."""
    import torch

    from scalpvision.segmentation.refiners import make_refiner
    from scalpvision.segmentation.segmenter import HairSegmenter
    from scalpvision.segmentation.u2net import U2NET_REGISTRY

    torch.manual_seed(0)
    seg = HairSegmenter(U2NET_REGISTRY["lite"](), make_refiner(refiner("grabcut")),
                        prompt_params(min_area=0), ensemble_params(0), boundary(), 128)
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(3)]
    for im in imgs:
        cv2.line(im, (5, 10), (120, 80), (10, 10, 10), 5)
    items = [("a", imgs[0]), ("bad", OSError("x.jpg: not an image")), ("b", imgs[1]),
             ("broken", np.zeros((0, 0, 3), np.uint8)), ("c", imgs[2])]
    out = list(seg.map(iter(items)))
    assert [k for k, _ in out] == ["a", "bad", "b", "broken", "c"]
    assert isinstance(out[1][1], OSError) and isinstance(out[3][1], Exception)
    for (_, res), im in zip([out[0], out[2], out[4]], imgs):
        assert np.array_equal(res.final, seg(im).final)


def test_shared_components_give_the_same_filters_and_skeleton():
    """One labelling serves every size filter and the thinning: the same results as labelling
    again for each (what hair_features relies on)."""
    from scalpvision.morphology import Components
    rng = np.random.default_rng(5)
    mask = np.zeros((200, 260), np.uint8)
    for _ in range(25):
        p0, p1 = rng.integers(0, 260, 2), rng.integers(0, 200, 2)
        cv2.line(mask, (int(p0[0]), int(p1[0])), (int(p0[1]), int(p1[1])), 1,
                 int(rng.integers(1, 6)))
    mask[rng.random(mask.shape) < 0.01] = 1  # specks: components of 1-2 px
    mask = mask.astype(bool)
    comps = Components.of(mask)
    for area in (0, 2, 30, 150, 250):
        assert np.array_equal(comps.at_least(area), remove_small_components(mask, area))
    kept = comps.at_least(150)
    assert np.array_equal(skeletonize(kept, comps), skeletonize(kept))


def _stripe_cover(centre, width, sigma, h, w):
    """(H, W) share of each pixel a horizontal hair of ``width`` px centred on row ``centre``
    covers (sub-pixel edges), blurred by a Gaussian defocus of ``sigma`` px."""
    y = np.arange(h, dtype=np.float32)[:, None] + 0.5
    top = centre - width / 2
    cover = np.clip(np.minimum(y - top, top + width - y) + 0.5, 0, 1)  # pixel coverage
    return cv2.GaussianBlur(np.repeat(cover, w, 1), (0, 0), sigma)


def _blurred_stripe(width, hair_rgb, skin_rgb, sigma=1.2, h=120, w=200):
    """A horizontal hair of ``width`` px (sub-pixel edges, Gaussian defocus) over a lit scalp
    with a slow brightness gradient; returns the image and the true mask."""
    y = np.arange(h, dtype=np.float32)[:, None] + 0.5
    cover = _stripe_cover(h / 2, width, sigma, h, w)
    light = np.linspace(0.8, 1.15, w, dtype=np.float32)[None, :, None]
    img = (np.array(skin_rgb, np.float32) * (1 - cover[..., None])
           + np.array(hair_rgb, np.float32) * cover[..., None]) * light
    truth = np.repeat((np.abs(y - h / 2) < width / 2), w, 1)
    return np.clip(img, 0, 255).astype(np.uint8), truth


@pytest.mark.parametrize("hair,skin", [((40, 30, 25), (205, 160, 140)),     # dark on light
                                       ((235, 230, 220), (150, 105, 80))])  # white on dark
@pytest.mark.parametrize("error", [-2, 2])  # the mask 2 px too narrow / too wide on each side
def test_boundary_step_moves_a_wrong_edge_to_the_half_way_colour(hair, skin, error):
    from scalpvision.segmentation.boundary import refine_boundary

    img, truth = _blurred_stripe(8, hair, skin)
    y = np.arange(img.shape[0])[:, None]
    wrong = np.repeat(np.abs(y + 0.5 - img.shape[0] / 2) < 4 + error, img.shape[1], 1)
    out = refine_boundary(img, wrong, boundary(2, 3))
    width = out[:, 20:-20].sum(0)  # away from the frame's side edges
    assert abs(np.median(width) - 8) <= 1 and abs(wrong[:, 20:-20].sum(0).mean() - 8) >= 3
    assert segmentation_scores(out, truth)["dice"] > 0.95


def test_boundary_step_keeps_a_faint_hair_beside_a_dark_one():
    """A faint grey hair 6 px from a dark one: against the window's mean hair colour (the
    dark hair's) its pixels are nearer the skin and it is cut away; against the colour of the
    hair at hand (``hair_window``) it stays, at its own half-way edges."""
    from scalpvision.segmentation.boundary import refine_boundary

    skin, dark, grey = (205, 160, 140), (40, 30, 25), (175, 135, 120)  # grey: ~30 levels
    h, w = 120, 200
    y = np.arange(h, dtype=np.float32)[:, None] + 0.5
    img = np.empty((h, w, 3), np.float32)
    img[:] = skin
    truth = np.zeros((h, w), bool)
    for centre, width, colour in ((52, 8, dark), (64, 3, grey)):
        cover = _stripe_cover(centre, width, 1.0, h, w)[..., None]
        img = img * (1 - cover) + np.array(colour, np.float32) * cover
        truth |= np.repeat(np.abs(y - centre) < width / 2, w, 1)
    img = img.astype(np.uint8)
    faint = np.zeros_like(truth)
    faint[59:70] = True
    window_only = refine_boundary(img, truth, boundary(2, 3, hair_window=0))
    at_hand = refine_boundary(img, truth, boundary(2, 3))
    assert PARAMS.segment.boundary.hair_window > 0
    inner = slice(20, -20)  # away from the frame's side edges
    assert (window_only & faint)[:, inner].sum(0).mean() < 1  # cut away
    assert abs((at_hand & faint)[:, inner].sum(0).mean() - 3) <= 1  # kept, at its width
    assert abs((at_hand & ~faint)[:, inner].sum(0).mean() - 8) <= 1  # the dark hair as before
    assert segmentation_scores(at_hand, truth)["dice"] > 0.9


def test_boundary_step_off_and_bad_shapes():
    from scalpvision.segmentation.boundary import refine_boundary

    img, truth = _blurred_stripe(6, (40, 30, 25), (205, 160, 140))
    off = refine_boundary(img, truth, boundary())
    assert np.array_equal(off, truth) and off is not truth
    assert not refine_boundary(img, np.zeros_like(truth), boundary(2, 3)).any()
    with pytest.raises(ValueError, match="do not match"):
        refine_boundary(img[:50], truth, boundary(2, 3))
