"""The image Hessian and its eigen-decomposition, shared by the line filters of the pseudo-pair
hair-free test (:func:`~scalpvision.segmentation.pseudo_pairs.ridge_map`) and of the line
strokes (:mod:`scalpvision.segmentation.strokes`). Float32 (H, W) arrays in and out."""

from __future__ import annotations

import cv2
import numpy as np


def hessian(blurred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dxx, dyy, dxy) of a float32 image (already smoothed at the scale wanted)."""
    return (cv2.Sobel(blurred, cv2.CV_32F, 2, 0, ksize=3),
            cv2.Sobel(blurred, cv2.CV_32F, 0, 2, ksize=3),
            cv2.Sobel(blurred, cv2.CV_32F, 1, 1, ksize=3))


def across(dxx: np.ndarray, dyy: np.ndarray, dxy: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(angle in rad of the eigenvector with the larger |eigenvalue|, i.e. across a line; that
    eigenvalue; the other, the curvature along the line)."""
    theta = 0.5 * np.arctan2(2 * dxy, dxx - dyy)  # an eigenvector; the other is theta + pi/2
    c, s = np.cos(theta), np.sin(theta)
    at_theta = dxx * c * c + 2 * dxy * s * c + dyy * s * s
    other = dxx + dyy - at_theta
    swap = np.abs(other) > np.abs(at_theta)
    return (np.where(swap, theta + np.pi / 2, theta), np.where(swap, other, at_theta),
            np.where(swap, at_theta, other))
