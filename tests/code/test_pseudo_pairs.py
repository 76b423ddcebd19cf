import numpy as np
import pytest

from _params import draw as HairDrawParams
from scalpvision.data.synthetic import render_scalp
from scalpvision.segmentation.pseudo_pairs import (
    HAIR_COLOURS_RGB, background_from_patch, collect_patches, draw_pseudo_hairs,
    hair_free_patches, iter_pseudo_pairs, ridge_map,
)

ZERO = {f"value_{i}": 0 for i in range(1, 7)}


def test_ridge_map_sees_lines_of_both_polarities_not_blobs():
    import cv2
    img = np.full((120, 160, 3), 128, np.uint8)
    cv2.line(img, (10, 20), (150, 30), (20, 20, 20), 3)
    cv2.line(img, (10, 90), (150, 100), (250, 250, 250), 3)
    cv2.circle(img, (80, 60), 6, (250, 250, 250), -1)
    r = ridge_map(img)
    assert r[25, 80] > 20 and r[95, 80] > 20  # dark and light hair
    assert r[60, 80] < r[25, 80] / 2  # a round flake is not a line


def test_hair_free_patches_avoid_the_ground_truth_hair():
    shares = []
    for seed in range(6):
        r = render_scalp({**ZERO, "value_6": 2}, np.random.default_rng(seed))
        for x0, y0, x1, y1 in hair_free_patches(r.image, (192, 144), 2):
            assert (x1 - x0, y1 - y0) == (192, 144)
            shares.append(r.mask[y0:y1, x0:x1].mean())
    assert shares, "no hair-free patch found on sparse-hair images"
    assert max(shares) < 0.01


def test_draw_pseudo_hairs_mask_has_hairs_only_and_is_deterministic():
    bg = np.full((480, 640, 3), (200, 160, 150), np.uint8)
    p = HairDrawParams(hairs_min=3, hairs_max=3, dots_min=100, dots_max=100)
    img, mask, n = draw_pseudo_hairs(bg, np.random.default_rng(1), p)
    img2, mask2, _ = draw_pseudo_hairs(bg, np.random.default_rng(1), p)
    assert n == 3 and mask.dtype == bool and mask.any()
    assert np.array_equal(img, img2) and np.array_equal(mask, mask2)
    changed = np.abs(img.astype(int) - bg).sum(2) > 0
    assert (changed & ~mask).sum() > 500  # dots and blobs drawn into the image ...
    _, mask_nodots, _ = draw_pseudo_hairs(bg, np.random.default_rng(1),
                                          HairDrawParams(3, 3, dots_min=100, dots_max=100))
    assert np.array_equal(mask, mask_nodots)  # ... never into the mask


def test_colour_families_are_rgb_of_the_reference_tables():
    assert set(HAIR_COLOURS_RGB) == {"brown", "blue", "black", "white"}
    assert HAIR_COLOURS_RGB["blue"][0] == (20, 55, 61)  # BGR (61,55,20) of reference §2
    assert sum(len(v) for v in HAIR_COLOURS_RGB.values()) == 47


def test_pairs_from_patches_and_error_without_patches():
    rng = np.random.default_rng(0)
    r = render_scalp({**ZERO, "value_6": 3}, np.random.default_rng(2))
    patches = collect_patches([("x", r.image)], (192, 144), 2, __import__(
        "scalpvision.segmentation.pseudo_pairs", fromlist=["PatchFilter"]).PatchFilter())
    pairs = list(iter_pseudo_pairs(patches, 3, rng, (640, 480), HairDrawParams()))
    assert len(pairs) == 3 and pairs[0][0].shape == (480, 640, 3)
    assert background_from_patch(patches[0][0], (640, 480), rng).shape == (480, 640, 3)
    with pytest.raises(ValueError, match="no hair-free patches"):
        next(iter_pseudo_pairs([], 1, rng, (640, 480), HairDrawParams()))


def test_blended_hairs_change_only_around_the_mask_and_keep_it_the_stroke():
    """Translucent, shaded, defocused hairs: the mask stays the hard stroke, the image changes
    on it (the hair is visible) and only within the defocus margin outside it."""
    import cv2
    bg = np.full((240, 320, 3), (190, 150, 130), np.uint8)
    p = HairDrawParams(6, 6, width_min=5, width_max=7, dots_min=0, dots_max=0, blobs_max=0,
                       alpha_min=0.6, shading_share=1.0, edge_blur_max=1.2)
    img, mask, n = draw_pseudo_hairs(bg, np.random.default_rng(4), p)
    assert n == 6 and mask.any()
    diff = np.abs(img.astype(int) - bg).sum(2)
    assert np.median(diff[mask]) > 30  # hairs are visible even at the lowest opacity
    near = cv2.dilate(mask.astype(np.uint8), np.ones((11, 11), np.uint8)).astype(bool)
    assert diff[~near].max() == 0  # nothing is painted away from the strokes
    # a lighter core: on wide hairs the centre line is brighter than the rim somewhere
    opaque, _, _ = draw_pseudo_hairs(bg, np.random.default_rng(4),
                                     HairDrawParams(6, 6, 5, 7, 0, 0, 0))
    assert not np.array_equal(img, opaque)


def test_paper_settings_draw_opaque_flat_hairs():
    bg = np.full((120, 160, 3), 128, np.uint8)
    p = HairDrawParams(2, 2, 3, 3, 0, 0, 0)
    img, mask, _ = draw_pseudo_hairs(bg, np.random.default_rng(0), p)
    inner = __import__("cv2").erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    cols = {tuple(c) for c in img[inner]}
    assert 1 <= len(cols) <= 2  # one flat colour per hair


@pytest.mark.parametrize("skin", [(225, 190, 170), (120, 80, 60), (60, 70, 90)])
def test_relative_colours_keep_their_contrast_on_any_skin(skin):
    """Skin-relative hair colours: the luminance contrast to the skin lies in
    [contrast_min, contrast_max] (less only where black or white clips it), both polarities
    occur, and every drawn colour is a valid RGB triple."""
    from scalpvision.segmentation.pseudo_pairs import relative_colour
    p = HairDrawParams(relative_colour_share=1.0, contrast_min=30, contrast_max=120,
                       light_share=0.3)
    rng = np.random.default_rng(0)
    luma = np.array([0.299, 0.587, 0.114])
    skin_l = float(np.array(skin) @ luma)
    cols = np.array([relative_colour(np.array(skin, np.float32), rng, p) for _ in range(400)])
    assert cols.min() >= 0 and cols.max() <= 255
    d = cols @ luma - skin_l
    clipped = (cols.max(1) >= 254.5) | (cols.min(1) <= 0.5)
    ok = (np.abs(d) >= 30 - 1) & (np.abs(d) <= 120 + 1)
    assert (ok | clipped).all()
    assert (d < 0).mean() > 0.5 and ((d > 0).any() or skin_l + 30 > 255)
    # drawn into a patch (one hair, so no crossings): its core keeps that contrast
    bg = np.full((120, 160, 3), skin, np.uint8)
    drawn = 0
    for seed in range(5):
        img, mask, _ = draw_pseudo_hairs(bg, np.random.default_rng(seed), HairDrawParams(
            1, 1, 5, 5, 0, 0, 0, relative_colour_share=1.0, contrast_min=30, contrast_max=120))
        core = __import__("cv2").erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert np.abs(img[core].astype(float) @ luma - skin_l).min(initial=99) >= 29
        drawn += core.any()
    assert drawn >= 3


def test_follicular_plugs_are_drawn_into_the_image_only():
    """Plug negatives: the same hairs and mask with or without them; the image changes only off
    the hair, in round yellowish discs a little darker than the skin (blue falls most)."""
    bg = np.full((240, 320, 3), (200, 160, 140), np.uint8)
    found = 0
    for seed in range(7, 12):
        base, m0, _ = draw_pseudo_hairs(bg, np.random.default_rng(seed),
                                        HairDrawParams(2, 2, 3, 3, 0, 0, 0))
        img, m1, _ = draw_pseudo_hairs(bg, np.random.default_rng(seed),
                                       HairDrawParams(2, 2, 3, 3, 0, 0, 0, plugs_max=4))
        assert np.array_equal(m0, m1)
        changed = np.abs(img.astype(int) - base).sum(2) > 0
        found += changed.any()
        d = (base.astype(int) - img)[changed & ~m1]
        if len(d):
            assert (d[:, 2] >= d[:, 0]).mean() > 0.9  # yellowish: blue drops as much as red or more
            assert (d.sum(1) >= 0).mean() > 0.9  # darker than the skin, not lighter
    assert found >= 3
