"""The only real labelled check: presence heads against the condition boxes of the CC BY
microscope frames (``<dir>/images/*.jpg`` with YOLO-style ``<dir>/labels/<stem>.txt``).

Box classes map approximately: ``d``/``ds`` (0, 1) -> dandruff, ``o`` (2) -> sebum, ``s`` (3) ->
erythema. Frames are grouped by scene (the Roboflow export suffix ``_jpg.rf.<hash>`` removed:
164 scenes were exported three times): a scene is positive when any of its exports has the
box, and its score is the mean over its exports. Used to judge a model, never to train one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scalpvision.classification.model import CONDITIONS

BOX_CLASSES = {0: "dandruff", 1: "dandruff", 2: "sebum", 3: "erythema"}  # d, ds, o, s


def scene_of(path: Path) -> str:
    return Path(path).name.split("_jpg.rf.")[0]


def real_frames(root: Path) -> tuple[list[Path], np.ndarray]:
    """The frames under ``root/images`` and their presence labels ``(N, 3)`` (0/1)."""
    root = Path(root)
    imgs = sorted((root / "images").glob("*.jpg"))
    lab = np.zeros((len(imgs), len(CONDITIONS)), int)
    for i, p in enumerate(imgs):
        txt = root / "labels" / (p.stem + ".txt")
        for line in txt.read_text().splitlines() if txt.is_file() else []:
            if line.strip() and int(line.split()[0]) in BOX_CLASSES:
                lab[i, CONDITIONS.index(BOX_CLASSES[int(line.split()[0])])] = 1
    return imgs, lab


def presence_auc_by_scene(paths, labels: np.ndarray, presence: np.ndarray) -> dict:
    """AUC of each presence probability per scene; ``{"scenes": n, c: auc,
    c + "_positive_scenes": k}`` (AUC is NaN when a condition has no positive or no negative
    scene)."""
    from sklearn.metrics import roc_auc_score

    scene = np.array([scene_of(p) for p in paths])
    out: dict = {"scenes": int(len(set(scene))), "frames": int(len(scene))}
    for k, c in enumerate(CONDITIONS):
        d = pd.DataFrame({"s": scene, "y": labels[:, k], "p": presence[:, k]}).groupby("s").agg(
            {"y": "max", "p": "mean"})
        out[c] = float(roc_auc_score(d.y, d.p)) if 0 < d.y.sum() < len(d) else float("nan")
        out[f"{c}_positive_scenes"] = int(d.y.sum())
    return out


def score_real_frames(predict, root: Path, batch: int = 32) -> dict:
    """``predict(list of RGB uint8) -> {"presence": (B, 3), ...}`` scored on the frames under
    ``root``; ``{}`` when there are none."""
    from scalpvision.io import read_image

    imgs, lab = real_frames(root)
    if not imgs:
        return {}
    probs = np.concatenate([predict([read_image(p) for p in imgs[i:i + batch]])["presence"]
                            for i in range(0, len(imgs), batch)])
    return presence_auc_by_scene(imgs, lab, probs)
