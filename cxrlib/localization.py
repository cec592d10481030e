"""Localisation of class maps against truth boxes and masks: point accuracy (PYLON's), IoBB over
connected regions (Wang et al. 2017), the thesis's IoBB-or-IoU hit rate (the reference code's
``iobb_or_iou``), and the share of a map's mass inside a mask."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.ndimage
import torch
import torch.nn.functional as F

from .maps import flat_maps, upsample_maps

__all__ = ["point_localization_accuracy", "iobb_scores", "iobb_or_iou_hits", "heatmap_mass_in_mask"]


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _boxes_by_key(boxes: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    return {key: g[["x", "y", "w", "h"]].to_numpy(float) for key, g in boxes.groupby(["image", "class"])}


def _check_heatmaps(heatmaps, image_keys: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """``(N, K, h, w)`` heatmaps as float64 numpy, after checking N and K against keys and classes."""
    maps = _np(heatmaps)
    if maps.ndim != 4:
        raise ValueError(f"heatmaps must be (N, K, h, w), got shape {maps.shape}")
    if maps.shape[0] != len(image_keys):
        raise ValueError(f"{maps.shape[0]} heatmaps but {len(image_keys)} image keys: they must be aligned")
    if maps.shape[1] != len(classes):
        raise ValueError(f"heatmaps have {maps.shape[1]} class maps but {len(classes)} classes were named")
    return maps


def _check_boxes(boxes: pd.DataFrame) -> None:
    missing = [c for c in ("image", "class", "x", "y", "w", "h") if c not in boxes.columns]
    if missing:
        raise ValueError(f"boxes lack column(s) {missing}; expected image, class, x, y, w, h")


def _peak(heatmap: np.ndarray) -> tuple[int, int]:
    """Row and column of the maximum of a map that is not flat.

    A low-resolution map upsampled bilinearly has a small plateau at its maximum; ``argmax`` would
    always pick the plateau's first pixel. Ties are broken by the plateau pixel nearest to the
    plateau's centroid instead. A flat map has no peak: callers count it as a miss (see
    :func:`cxrlib.maps.flat_maps`) instead of asking for one.
    """
    top = heatmap.max()
    rows, cols = np.nonzero(heatmap >= top - 1e-6 * max(abs(top), 1e-12))
    if len(rows) == 1:
        return int(rows[0]), int(cols[0])
    nearest = np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2)
    return int(rows[nearest]), int(cols[nearest])


def point_localization_accuracy(
    heatmaps,
    boxes: pd.DataFrame,
    image_keys: Sequence[str],
    classes: Sequence[str],
    image_size: tuple[int, int],
) -> pd.DataFrame:
    """PYLON's point localisation accuracy (Preechakul et al.).

    For every (image, class) with at least one ground-truth box, the class heatmap is upsampled
    bilinearly to ``image_size``; a hit is when its maximum pixel (centre; ties broken towards the
    centre of the maximum's plateau) lies inside any box of that class on that image. A **flat**
    map (constant: all zero after the ReLU, or one value everywhere) has no maximum and counts as a
    miss; how many there were is the ``flat`` column. ``heatmaps (N, K, h, w)`` are aligned with
    ``image_keys`` (length N) and ``classes`` (length K); ``boxes`` (``image, class, x, y, w, h``)
    are in the pixel coordinates of ``image_size``.

    Returns one row per class with ``n``, ``hits``, ``flat``, ``accuracy``, plus rows ``"weighted"``
    (pooled over all box-bearing pairs) and ``"macro"`` (mean of class accuracies).
    """
    maps = _check_heatmaps(heatmaps, image_keys, classes)
    _check_boxes(boxes)
    classes = list(classes)
    flat = flat_maps(maps)  # (N, K)
    position = {key: i for i, key in enumerate(image_keys)}
    hits = {c: 0 for c in classes}
    total = {c: 0 for c in classes}
    n_flat = {c: 0 for c in classes}
    for (image, cls), bxs in _boxes_by_key(boxes).items():
        if cls not in total or image not in position:
            continue
        i, k = position[image], classes.index(cls)
        total[cls] += 1
        if flat[i, k]:
            n_flat[cls] += 1
            continue
        row, col = _peak(upsample_maps(maps[i, k], image_size).numpy())
        px, py = col + 0.5, row + 0.5
        inside = (bxs[:, 0] <= px) & (px <= bxs[:, 0] + bxs[:, 2]) & (bxs[:, 1] <= py) & (py <= bxs[:, 1] + bxs[:, 3])
        hits[cls] += int(inside.any())
    table = pd.DataFrame({"n": total, "hits": hits, "flat": n_flat}).astype(int)
    table["accuracy"] = table["hits"] / table["n"].where(table["n"] > 0)
    per_class = table.copy()
    n_all = int(per_class["n"].sum())
    table.loc["weighted"] = [
        n_all,
        per_class["hits"].sum(),
        per_class["flat"].sum(),
        per_class["hits"].sum() / n_all if n_all else np.nan,
    ]
    table.loc["macro"] = [n_all, per_class["hits"].sum(), per_class["flat"].sum(), per_class["accuracy"].mean()]
    return table.astype({"n": int, "hits": int, "flat": int})


def iobb_scores(
    heatmaps,
    boxes: pd.DataFrame,
    image_keys: Sequence[str],
    classes: Sequence[str],
    image_size: tuple[int, int],
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Intersection over the predicted bounding box (IoBB, Wang et al. 2017).

    Each upsampled heatmap is min-max normalised and thresholded at ``threshold``; every connected
    region gives a predicted box. For each ground-truth box, IoBB = max over predicted boxes of
    ``area(GT ∩ pred) / area(pred)``. A flat map predicts no box and scores 0 (min-max normalising
    a constant map would otherwise make the whole image one box). Returns one row per ground-truth
    box with ``image, class, iobb, flat``.
    """
    maps = _check_heatmaps(heatmaps, image_keys, classes)
    _check_boxes(boxes)
    classes = list(classes)
    flat = flat_maps(maps)
    position = {key: i for i, key in enumerate(image_keys)}
    rows = []
    cache: dict[tuple[str, str], np.ndarray] = {}
    for _, gt in boxes.iterrows():
        if gt["class"] not in classes or gt["image"] not in position:
            continue
        i, k = position[gt["image"]], classes.index(gt["class"])
        if (i, k) not in cache:
            if flat[i, k]:
                cache[(i, k)] = np.zeros((0, 4))
            else:
                up = upsample_maps(maps[i, k], image_size).numpy()
                up = (up - up.min()) / (up.max() - up.min())
                labelled, _ = scipy.ndimage.label(up >= threshold)
                slices = scipy.ndimage.find_objects(labelled)
                cache[(i, k)] = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices if s], float)
        pred = cache[(i, k)].reshape(-1, 4)
        gx0, gy0, gx1, gy1 = gt["x"], gt["y"], gt["x"] + gt["w"], gt["y"] + gt["h"]
        iw = np.clip(np.minimum(pred[:, 2], gx1) - np.maximum(pred[:, 0], gx0), 0, None)
        ih = np.clip(np.minimum(pred[:, 3], gy1) - np.maximum(pred[:, 1], gy0), 0, None)
        area = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
        rows.append((gt["image"], gt["class"], float((iw * ih / area).max()) if len(pred) else 0.0, bool(flat[i, k])))
    return pd.DataFrame(rows, columns=["image", "class", "iobb", "flat"])


def iobb_or_iou_hits(
    heatmaps,
    boxes: pd.DataFrame,
    image_keys: Sequence[str],
    classes: Sequence[str],
    image_size: tuple[int, int],
    prediction_threshold: float = 0.5,
    intersect_threshold: float = 0.5,
    apply_sigmoid: bool = True,
) -> pd.DataFrame:
    """The thesis's Table 5.2 measure, as the reference code computes it (``iobb_acc`` with
    ``iobb_or_iou=True``): per (image, class) with a truth box, the class map (through a sigmoid when
    ``apply_sigmoid``: the maps are logits) upsampled bilinearly to ``image_size`` (``align_corners=
    False``), scaled so its maximum is 1 and thresholded above ``prediction_threshold``; the truth is
    the union of that class's boxes in the image. A hit when IoBB = |pred ∩ truth| / |pred| or IoU =
    |pred ∩ truth| / |pred ∪ truth| exceeds ``intersect_threshold``. Returns one row per (image,
    class): ``image, class, iobb, iou, hit``."""
    maps = _check_heatmaps(heatmaps, image_keys, classes)
    _check_boxes(boxes)
    classes, (height, width) = list(classes), image_size
    position = {key: i for i, key in enumerate(image_keys)}
    rows = []
    for (key, name), group in boxes.groupby(["image", "class"], sort=False):
        if name not in classes or key not in position:
            continue
        i, k = position[key], classes.index(name)
        m = torch.as_tensor(maps[i, k])[None, None]
        m = torch.sigmoid(m) if apply_sigmoid else m
        up = F.interpolate(m, size=(height, width), mode="bilinear", align_corners=False)[0, 0]
        pred = (up / up.max() > prediction_threshold).numpy()
        truth = np.zeros((height, width), bool)
        for x, y, w, h in group[["x", "y", "w", "h"]].to_numpy(float).astype(int):
            truth[y : y + h, x : x + w] = True
        inter = float((pred & truth).sum())
        iobb = inter / pred.sum() if pred.any() else 0.0
        iou = inter / float((pred | truth).sum()) if (pred | truth).any() else 0.0
        rows.append((key, name, iobb, iou, bool(iobb > intersect_threshold or iou > intersect_threshold)))
    return pd.DataFrame(rows, columns=["image", "class", "iobb", "iou", "hit"])


def heatmap_mass_in_mask(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Fraction of (positive) heatmap mass inside a mask, per map.

    ``maps (..., h, w)`` are upsampled bilinearly to the masks' ``(H, W)``; ``masks (..., H, W)``
    bool with exactly the maps' leading shape (expand a per-image mask over K yourself: a silent
    broadcast of ``(B, H, W)`` against ``(B, K, h, w)`` pairs the wrong maps when B = K). Returns
    ``(...)`` in [0, 1]; a map with no positive mass (all zero after the ReLU) scores 0, never a
    chance share. Differentiable in ``maps``.
    """
    if maps.ndim < 2 or masks.ndim < 2:
        raise ValueError(
            f"maps (..., h, w) and masks (..., H, W) expected, got {tuple(maps.shape)} and {tuple(masks.shape)}"
        )
    if maps.shape[:-2] != masks.shape[:-2]:
        raise ValueError(
            f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} must share their leading "
            "dimensions (one mask per map)"
        )
    up = upsample_maps(maps, masks.shape[-2:]).clamp_min(0)
    inside = (up * masks.to(up.dtype)).sum((-2, -1))
    return inside / (up.sum((-2, -1)) + 1e-12)
