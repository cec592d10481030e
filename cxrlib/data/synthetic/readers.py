"""Simulated readers of SynthCXR images: per-class sensitivity / specificity and jittered boxes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ...rng import random_stream
from ..dataset import BOX_COLUMNS, CXRDataset
from ..labels import labels_from_votes, on_positive_labels
from .config import SYNTH_CLASSES, SynthCXRConfig

__all__ = ["reader_tables", "readers_as_truth"]


def reader_tables(
    cfg: SynthCXRConfig, truth: np.ndarray, boxes: pd.DataFrame, keys: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labels ``(image, reader, *classes)`` (1.0 / 0.0) and boxes (``BOX_COLUMNS``) of ``cfg.readers``.

    ``truth`` is ``(N, K_all)`` bool over ``SYNTH_CLASSES``; ``boxes`` the truth boxes in pixels. A
    reader who finds a true finding reports its truth boxes with each edge jittered by
    ``box_jitter`` × the box size; a false positive gets a box somewhere in the chest.
    """
    spec = cfg.readers
    rng = random_stream(cfg.seed, 0xBEAD)
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


def readers_as_truth(ds: CXRDataset, rule: str = "union") -> CXRDataset:
    """The VinDr-CXR view of a SynthCXR set opened with ``readers=``: what its readers said becomes the
    truth, as it is for a real multi-reader dataset.

    The labels of each image and class are 1.0 where ``rule`` holds ("union": at least one reader
    marked it, as PYLON's VinDr experiments; "majority": two or more) and 0.0 elsewhere (the generator's
    own labels, its uncertainty and label noise are replaced). The ground-truth boxes are every
    reader's boxes of the (image, class) pairs so labelled (``ds.truth_boxes()`` keeps the readers'
    boxes only; the generator's exact boxes stay in ``ds.boxes`` as reader ``"truth"``). Masks and
    extras are the generator's, untouched. ``ds.info`` gains ``label_rule``, ``truth_readers``,
    ``truth_rule`` and ``reader_agreement`` (per class, the share of the generator's true findings
    that the rule labels positive, and the share of its labelled positives that are true findings).
    """
    if "reader_labels" not in ds.info:
        raise ValueError(f"{ds.name}: no simulated readers; open it with readers={{'n_readers': 3, ...}}")
    said = ds.info["reader_labels"]
    readers = sorted(said["reader"].unique())
    votes = said.groupby("image")[ds.classes].sum()
    votes = votes.reindex(ds.table["image"]).fillna(0)
    labels = labels_from_votes(votes, rule)
    table = ds.table.copy()
    table[ds.classes] = labels.to_numpy()
    boxes = ds.boxes
    from_readers = boxes["reader"].isin(readers)
    kept = from_readers & on_positive_labels(labels, boxes["image"], boxes["class"])
    truth = ds.info["truth"].reindex(ds.table["image"])[ds.classes].to_numpy() == 1
    said_positive = labels.to_numpy() == 1
    agreement = pd.DataFrame(
        {
            "sensitivity": (truth & said_positive).sum(0) / np.maximum(truth.sum(0), 1),
            "precision": (truth & said_positive).sum(0) / np.maximum(said_positive.sum(0), 1),
        },
        index=ds.classes,
    )
    info = {
        **ds.info,
        "label_rule": rule,
        "truth_readers": readers,
        "truth_rule": f"{rule}: every reader's boxes of the classes "
        + ("any reader" if rule == "union" else "at least two readers")
        + " marked on the image",
        "reader_agreement": agreement,
        "boxes_dropped_by_label_rule": int((from_readers & ~kept).sum()),
    }
    keep = ~from_readers | kept
    return CXRDataset(
        ds.name,
        ds.classes,
        table,
        boxes[keep].reset_index(drop=True),
        ds._images,
        ds._masks,
        rows=ds.rows,
        extras=ds._extras,
        info=info,
    )
