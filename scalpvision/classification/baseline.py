"""The classical baseline: colour and texture statistics of the scalp outside the hair mask,
then one gradient-boosting model per condition.

This is what a careful engineer tries first: redness, yellowness, sheen, flakes and texture are
what the graders look at, and they are cheap. The hair mask (dilated by 2 px) is excluded so
hair colour and hair density do not pose as scalp colour.
"""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

from scalpvision.classification.model import CONDITIONS, GRADES

FEATURES = ("L_mean", "L_std", "a_mean", "a_p90_minus_p50", "b_mean", "b_p90_minus_p50",
            "saturation_mean", "specular_share", "flake_share", "red_spot_share",
            "laplacian_std", "gradient_mean", "scalp_share")


def scalp_features(image: np.ndarray, hair: np.ndarray | None = None) -> dict[str, float]:
    """``image: (H, W, 3) uint8 RGB``, ``hair: (H, W) bool`` (None = no hair excluded) ->
    the :data:`FEATURES` of the scalp pixels. CIELAB on OpenCV's 8-bit scale (a*, b* centred
    on 0); shares are of scalp pixels, 0-1."""
    h, w = image.shape[:2]
    scalp = np.ones((h, w), bool) if hair is None else \
        ~cv2.dilate(hair.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if scalp.sum() < 0.02 * h * w:  # nearly all hair: use every pixel rather than none
        scalp = np.ones((h, w), bool)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    L, a, b = lab[..., 0], lab[..., 1] - 128, lab[..., 2] - 128
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    s, v = hsv[..., 1] / 255, hsv[..., 2] / 255
    local_L = cv2.medianBlur(L.astype(np.uint8), 31).astype(np.float32)
    local_a = cv2.blur(a, (31, 31))
    lap = cv2.Laplacian(L, cv2.CV_32F, ksize=3)
    gx, gy = cv2.Sobel(L, cv2.CV_32F, 1, 0), cv2.Sobel(L, cv2.CV_32F, 0, 1)
    sc = lambda x: x[scalp]  # noqa: E731
    a_s, b_s = sc(a), sc(b)
    return {
        "L_mean": float(sc(L).mean()), "L_std": float(sc(L).std()),
        "a_mean": float(a_s.mean()),
        "a_p90_minus_p50": float(np.percentile(a_s, 90) - np.median(a_s)),
        "b_mean": float(b_s.mean()),
        "b_p90_minus_p50": float(np.percentile(b_s, 90) - np.median(b_s)),
        "saturation_mean": float(sc(s).mean()),
        "specular_share": float(np.mean(sc((v > 0.92) & (s < 0.2)))),
        "flake_share": float(np.mean(sc((L - local_L > 12) & (s < 0.3)))),
        "red_spot_share": float(np.mean(sc(a - local_a > 6))),
        "laplacian_std": float(sc(lap).std()),
        "gradient_mean": float(np.mean(sc(np.hypot(gx, gy)))),
        "scalp_share": float(scalp.mean()),
    }


def feature_table(paths, progress=None) -> np.ndarray:
    """``(N, len(FEATURES))`` for the images at ``paths``; the hair excluded is the classical
    black-hat mask (cheap, and the same for every split and at serving time - the baseline
    does not depend on the trained segmenter)."""
    from scalpvision.io import read_image
    from scalpvision.segmentation.baselines import blackhat_morphology

    rows = []
    it = progress(paths) if progress else paths
    for p in it:
        im = read_image(p)
        f = scalp_features(im, blackhat_morphology(im))
        rows.append([f[k] for k in FEATURES])
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))


class ConditionGbm:
    """One ``GradientBoostingClassifier`` per condition on the scalp features; ``predict_proba``
    answers in the classifier's format (presence = 1 - P(grade 0))."""

    def __init__(self, n_estimators: int = 200, learning_rate: float = 0.05, max_depth: int = 3,
                 seed: int = 0):
        self.n_estimators, self.learning_rate = n_estimators, learning_rate
        self.max_depth, self.seed = max_depth, seed

    def fit(self, x: np.ndarray, grades: np.ndarray) -> "ConditionGbm":
        self.models_ = {}
        for k, c in enumerate(CONDITIONS):
            m = GradientBoostingClassifier(n_estimators=self.n_estimators,
                                           learning_rate=self.learning_rate,
                                           max_depth=self.max_depth, random_state=self.seed)
            self.models_[c] = m.fit(x, grades[:, k])
        return self

    def predict_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for c, m in self.models_.items():
            p = np.zeros((len(x), GRADES))
            p[:, m.classes_.astype(int)] = m.predict_proba(x)
            out[c] = p
        out["presence"] = np.stack([1 - out[c][:, 0] for c in CONDITIONS], axis=1)
        return out
