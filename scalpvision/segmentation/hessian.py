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


def eigenvalues(dxx: np.ndarray, dyy: np.ndarray, dxy: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """(l1, l2), l1 >= l2: the eigenvalues of the Hessian [[dxx, dxy], [dxy, dyy]]."""
    root = np.sqrt((dxx - dyy) ** 2 + 4 * dxy**2)
    return (dxx + dyy + root) / 2, (dxx + dyy - root) / 2


def across(dxx: np.ndarray, dyy: np.ndarray, dxy: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(angle in rad of the eigenvector with the larger |eigenvalue|, i.e. across a line; that
    eigenvalue; the other, the curvature along the line)."""
    theta = 0.5 * np.arctan2(2 * dxy, dxx - dyy)  # the eigenvector of l1; l2's is theta + pi/2
    l1, l2 = eigenvalues(dxx, dyy, dxy)
    swap = np.abs(l2) > np.abs(l1)
    return np.where(swap, theta + np.pi / 2, theta), np.where(swap, l2, l1), np.where(swap, l1, l2)
