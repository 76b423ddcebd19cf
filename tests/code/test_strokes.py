"""Line strokes (segmentation/strokes.py): the symmetric line contrast against its literal
definition, both polarities, and what is not a line (an edge, a spot, a pore beside a hair, a
flake, flat skin)."""

import cv2
import numpy as np

from _params import strokes as stroke_params
from scalpvision.segmentation.strokes import line_contrast, line_strokes


def _skin(h=160, w=400, level=170, noise=0, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(level + rng.normal(0, noise, (h, w, 1)), 0, 255).repeat(3, 2).astype(np.uint8)


def test_line_contrast_is_the_smaller_difference_to_both_sides_of_the_line():
    """A horizontal 3-px line: at one scale the contrast is min(|C - C(y-d)|, |C - C(y+d)|) with
    C the image smoothed at max(s/2, 0.5) and d = 2s + 1, both polarities; about the line's
    grey-level contrast at its centre."""
    for value in (150, 190):  # darker and lighter than the skin (170)
        img = _skin()
        img[78:81] = value
        lc = line_contrast(img, (1.0,))
        c = cv2.GaussianBlur(img[..., 0].astype(np.float32), (0, 0), 0.5)
        one, two = c[76:83] - c[73:80], c[76:83] - c[79:86]  # rows 76..82, sides 3 px away
        same = np.sign(one) == np.sign(two)
        literal = np.where(same, np.minimum(np.abs(one), np.abs(two)), 0)
        np.testing.assert_allclose(lc[76:83, 20:-20], literal[:, 20:-20], atol=1e-3)
        assert 15 <= lc[79, 200] <= 20.5


def test_an_edge_and_flat_skin_have_no_line_contrast():
    img = _skin(noise=0)
    img[:, 200:] = 220  # a step of 50 grey levels
    lc = line_contrast(img, (1.0, 2.0, 3.0))
    assert lc.max() < 1.0


def test_strokes_keep_faint_lines_of_either_colour_and_no_spot_or_flake():
    img = _skin(h=240, noise=3)
    grey, white = np.zeros((240, 400), np.uint8), np.zeros((240, 400), np.uint8)
    cv2.line(grey, (20, 40), (380, 90), 1, 2)  # 2 px, 14 grey levels darker
    cv2.line(white, (20, 200), (380, 150), 1, 3)  # 3 px, 30 lighter
    img[grey > 0] -= 14
    img[white > 0] += 30
    spot, flake = np.zeros_like(grey), np.zeros_like(grey)
    for x in range(60, 360, 30):
        cv2.circle(spot, (x, 120), 4, 1, -1)  # a row of pores
    touching = np.zeros_like(grey)
    cv2.circle(touching, (200, 71), 4, 1, -1)  # a pore touching the faint hair (centre y 65)
    spot |= touching
    cv2.fillPoly(flake, [np.array([[150, 15], [200, 10], [210, 28], [160, 32]])], 1)
    img[spot > 0] = 90
    img[flake > 0] = 235
    s = line_strokes(img, np.ones((240, 400), bool), stroke_params())
    near = lambda m, r=2: cv2.dilate(m, np.ones((2 * r + 1,) * 2, np.uint8)) > 0  # noqa: E731
    for line in (grey, white):
        core = cv2.erode(line, np.ones((2, 2), np.uint8)) if line is white else line
        # the hair, except where a pore interrupts it (a stroke may break there)
        assert s[(core > 0) & ~near(spot, 12)][10:-10].mean() > 0.9
    assert not (s & near(spot ^ touching) & ~near(grey | white)).any()
    assert (s & near(touching) & ~near(grey | white)).sum() <= 5  # 67 px without the blob test
    assert not (s & near(flake) & ~near(grey | white)).any()
    assert not line_strokes(img, np.ones((240, 400), bool), stroke_params(threshold=0)).any()
    assert not line_strokes(img, np.zeros((240, 400), bool), stroke_params()).any()
