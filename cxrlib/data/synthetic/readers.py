"""Simulated readers of SynthCXR images: per-class sensitivity / specificity and jittered boxes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..dataset import BOX_COLUMNS
from .config import SYNTH_CLASSES, SynthCXRConfig

__all__ = ["reader_tables"]


def reader_tables(
    cfg: SynthCXRConfig, truth: np.ndarray, boxes: pd.DataFrame, keys: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labels ``(image, reader, *classes)`` (1.0 / 0.0) and boxes (``BOX_COLUMNS``) of ``cfg.readers``.

    ``truth`` is ``(N, K_all)`` bool over ``SYNTH_CLASSES``; ``boxes`` the truth boxes in pixels. A
    reader who finds a true finding reports its truth boxes with each edge jittered by
    ``box_jitter`` × the box size; a false positive gets a box somewhere in the chest.
    """
    spec = cfg.readers
    rng = np.random.default_rng([cfg.seed, 0xBEAD])
    said = np.zeros((len(keys), spec.n_readers, len(cfg.classes)))  # image, reader, class
    box_rows = []
    size = cfg.image_size
    truth_boxes = {key: g[["x", "y", "w", "h"]].to_numpy() for key, g in boxes.groupby(["image", "class"])}
    for r in range(spec.n_readers):
        reader = f"reader_{r}"
        for ci, c in enumerate(cfg.classes):
            kk = SYNTH_CLASSES.index(c)
            sens = spec.sensitivity.get(c, 0.8) if isinstance(spec.sensitivity, Mapping) else spec.sensitivity
            spec_ = spec.specificity.get(c, 0.95) if isinstance(spec.specificity, Mapping) else spec.specificity
            draw = rng.random(len(keys))
            says = np.where(truth[:, kk], draw < sens, draw > spec_)
            said[:, r, ci] = says
            for i in np.flatnonzero(says):
                if truth[i, kk]:
                    for bx, by, bw, bh in truth_boxes.get((keys[i], c), ()):
                        j = rng.normal(0, spec.box_jitter, 4)
                        x0 = bx + j[0] * bw
                        y0 = by + j[1] * bh
                        x1 = bx + bw + j[2] * bw
                        y1 = by + bh + j[3] * bh
                        x0, x1 = np.clip(sorted([x0, x1]), 0, size)
                        y0, y1 = np.clip(sorted([y0, y1]), 0, size)
                        box_rows.append((keys[i], c, x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0), reader))
                else:  # false positive: a box somewhere in the chest
                    w, h = rng.uniform(0.08, 0.3, 2) * size
                    x0, y0 = rng.uniform(0.15, 0.85 - w / size) * size, rng.uniform(0.15, 0.8 - h / size) * size
                    box_rows.append((keys[i], c, x0, y0, w, h, reader))
    readers = [f"reader_{r}" for r in range(spec.n_readers)]
    labels = pd.DataFrame(
        said.reshape(-1, len(cfg.classes)),
        columns=list(cfg.classes),
        index=pd.MultiIndex.from_product([keys, readers], names=["image", "reader"]),
    )
    return labels.reset_index(), pd.DataFrame(box_rows, columns=BOX_COLUMNS)
