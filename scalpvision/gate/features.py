"""What tells a microscopic scalp frame from anything else, as numbers that do not depend on
the microscope's colour rendering.

A dermoscope frame is a close, evenly lit, textured surface: its grey levels are neither flat
nor noise (neighbouring pixels correlate, but there is fine texture), its energy sits in the
middle frequencies, its edges have no preferred axis (text, charts and screenshots are
axis-aligned), its brightness varies little between regions (photos have sky, shadow and
objects), and its colour - whatever the white balance - spans a narrow range of hues. Thin dark
curvilinear structures (hairs) are common but not required (bald scalp).

Colour enters only as spreads and concentrations (hue concentration, saturation spread, the
number of distinct colours), never as "skin is this hue": real frames range from grey to
orange to magenta with the capture device.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIZE = (160, 120)  # (w, h) every image is measured at

FEATURES = (
    "grey_std", "grey_iqr", "white_share", "black_share", "neighbour_corr", "lap_over_std",
    "band_low", "band_mid", "band_high", "edge_density", "edge_axis_share", "edge_entropy",
    "block_mean_spread", "block_std_spread", "sat_mean", "sat_std", "hue_concentration",
    "colour_count", "blackhat_share", "largest_flat_share",
)


def _spectrum_bands(g: np.ndarray) -> tuple[float, float, float]:
    f = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean()))) ** 2
    h, w = g.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2))
    total = f.sum() + 1e-12
    return (float(f[r < 0.1].sum() / total), float(f[(r >= 0.1) & (r < 0.4)].sum() / total),
            float(f[r >= 0.4].sum() / total))


def gate_features(rgb: np.ndarray) -> np.ndarray:
    """``rgb: (H, W, 3) uint8`` -> ``(len(FEATURES),) float64``, measured at :data:`WORK_SIZE`."""
    im = cv2.resize(rgb, WORK_SIZE, interpolation=cv2.INTER_AREA)
    g8 = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
    g = g8.astype(np.float64) / 255.0
    std = g.std()
    q1, q3 = np.percentile(g, [25, 75])
    a, b = g[:, :-1].ravel(), g[:, 1:].ravel()
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 1e-6 and b.std() > 1e-6 else 1.0
    lap = cv2.Laplacian(g, cv2.CV_64F)
    low, mid, high = _spectrum_bands(g)
    gx, gy = cv2.Sobel(g, cv2.CV_64F, 1, 0), cv2.Sobel(g, cv2.CV_64F, 0, 1)
    mag = np.hypot(gx, gy)
    strong = mag > max(0.08, np.percentile(mag, 90))
    ang = np.degrees(np.arctan2(gy[strong], gx[strong])) % 180
    if strong.sum() >= 10:
        axis = float(np.mean((np.minimum(ang % 90, 90 - ang % 90)) < 5))
        hist = np.histogram(ang, bins=12, range=(0, 180))[0] / len(ang)
        entropy = float(-(hist[hist > 0] * np.log(hist[hist > 0])).sum() / np.log(12))
    else:
        axis, entropy = 0.0, 0.0
    blocks = g.reshape(4, WORK_SIZE[1] // 4, 4, WORK_SIZE[0] // 4)
    bmean = blocks.mean(axis=(1, 3))
    bstd = blocks.std(axis=(1, 3))
    hsv = cv2.cvtColor(im, cv2.COLOR_RGB2HSV).astype(np.float64)
    hue = hsv[..., 0] * (np.pi / 90.0)  # OpenCV hue 0-180 -> radians
    sat = hsv[..., 1] / 255.0
    w = sat + 1e-9
    conc = float(np.hypot((w * np.cos(hue)).sum(), (w * np.sin(hue)).sum()) / w.sum())
    q = (im // 32).reshape(-1, 3).astype(np.int32)
    codes = q[:, 0] * 64 + q[:, 1] * 8 + q[:, 2]
    counts = np.bincount(codes, minlength=512) / len(codes)
    colour_count = float(np.sum(counts > 0.002)) / 512.0
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    bh = cv2.morphologyEx(g8, cv2.MORPH_BLACKHAT, k)
    flat = (cv2.blur(np.abs(lap), (9, 9)) < 0.004).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(flat, connectivity=4)
    largest_flat = float(stats[1:, cv2.CC_STAT_AREA].max() / flat.size) if n > 1 else 0.0
    vals = [std, q3 - q1, np.mean(g > 0.96), np.mean(g < 0.04), corr,
            np.abs(lap).mean() / (std + 1e-3), low, mid, high, strong.mean(), axis, entropy,
            bmean.std() / (g.mean() + 1e-3), bstd.std() / (std + 1e-3), sat.mean(), sat.std(),
            conc, colour_count, np.mean(bh > 20), largest_flat]
    return np.nan_to_num(np.asarray(vals, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
