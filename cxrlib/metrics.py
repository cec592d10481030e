"""Metrics: AUROC, calibration (ECE + reliability curve), localisation (point accuracy, IoBB, mask
mass) and Student-t confidence intervals across seeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.stats
import torch
import torch.nn.functional as F

__all__ = [
    "auroc",
    "per_class_auroc",
    "ReliabilityCurve",
    "reliability_curve",
    "expected_calibration_error",
    "per_class_ece",
    "point_localization_accuracy",
    "iobb_scores",
    "heatmap_mass_in_mask",
    "mean_confidence_interval",
]


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Discrimination
# ----------------------------------------------------------------------------------------------
def auroc(scores, labels) -> float:
    """Area under the ROC curve of one class (Mann-Whitney statistic, ties counted half).

    ``scores`` and ``labels`` are ``(N,)``; NaN labels are ignored. Returns NaN when only one
    label value is present.
    """
    s, y = _np(scores).ravel(), _np(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in shape")
    keep = ~np.isnan(y)
    s, y = s[keep], y[keep]
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0, 1 or NaN")
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = scipy.stats.rankdata(s)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def per_class_auroc(scores, labels, classes: Sequence[str] | None = None) -> pd.Series:
    """AUROC per column of ``(N, K)`` scores/labels, plus ``"mean"`` over classes that have one."""
    s, y = _np(scores), _np(labels)
    classes = list(classes) if classes is not None else [str(k) for k in range(s.shape[1])]
    values = [auroc(s[:, k], y[:, k]) for k in range(s.shape[1])]
    out = pd.Series(values, index=classes, dtype=float)
    out["mean"] = np.nanmean(values) if not np.isnan(values).all() else np.nan
    return out


# ----------------------------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------------------------
@dataclass
class ReliabilityCurve:
    """Equal-width bins on [0, 1]: mean confidence, observed frequency and count per bin."""

    edges: np.ndarray  # (n_bins + 1,)
    confidence: np.ndarray  # (n_bins,) NaN for empty bins
    accuracy: np.ndarray  # (n_bins,) NaN for empty bins
    count: np.ndarray  # (n_bins,)

    @property
    def ece(self) -> float:
        """Expected calibration error: Σ_b n_b / N · |acc_b − conf_b|."""
        n = self.count.sum()
        gaps = np.nan_to_num(np.abs(self.accuracy - self.confidence))
        return float((self.count / max(n, 1) * gaps).sum())


def _confidence_and_outcome(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    p, y = _np(probs), _np(labels)
    if p.ndim == 1:  # binary: probability of the positive class against its frequency
        if p.shape != y.shape:
            raise ValueError(f"probs {p.shape} and labels {y.shape} differ in shape")
        keep = ~np.isnan(y)
        return p[keep], y[keep]
    if p.ndim == 2 and y.ndim == 1:  # multi-class: top-label confidence against correctness
        return p.max(1), (p.argmax(1) == y).astype(float)
    raise ValueError(
        f"expected binary (N,) probs with (N,) labels or multi-class (N, C) probs with (N,) labels; "
        f"got {p.shape} and {y.shape} (use per_class_ece for multi-label)"
    )


def reliability_curve(probs, labels, n_bins: int = 15) -> ReliabilityCurve:
    """Reliability-diagram data (binary or multi-class top-label, see ``expected_calibration_error``)."""
    conf, outcome = _confidence_and_outcome(probs, labels)
    if np.isnan(conf).any():
        raise ValueError("probabilities contain NaN")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.floor(conf * n_bins).astype(int), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, conf, n_bins) / count
        mean_acc = np.bincount(idx, outcome, n_bins) / count
    return ReliabilityCurve(edges, mean_conf, mean_acc, count)


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """ECE with ``n_bins`` equal-width bins.

    * ``probs (N,)``, ``labels (N,)`` in {0, 1}: calibration of the positive-class probability.
    * ``probs (N, C)``, ``labels (N,)`` class indices: top-label calibration.
    * ``probs (N, K)``, ``labels (N, K)`` (multi-label, NaN = unknown): mean of the per-class ECEs.
    """
    p, y = _np(probs), _np(labels)
    if p.ndim == 2 and p.shape == y.shape:
        return float(np.nanmean(per_class_ece(p, y, n_bins)))
    return reliability_curve(p, y, n_bins).ece


def per_class_ece(probs, labels, n_bins: int = 15) -> np.ndarray:
    """``(K,)`` binary ECE of each column of multi-label ``(N, K)`` probabilities."""
    p, y = _np(probs), _np(labels)
    return np.array([reliability_curve(p[:, k], y[:, k], n_bins).ece for k in range(p.shape[1])])


# ----------------------------------------------------------------------------------------------
# Localisation
# ----------------------------------------------------------------------------------------------
def _upsampled(maps, size: tuple[int, int]) -> np.ndarray:
    t = maps if isinstance(maps, torch.Tensor) else torch.as_tensor(np.asarray(maps, dtype=np.float32))
    t = t.detach().float().cpu()
    return F.interpolate(t[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def _boxes_by_key(boxes: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    return {key: g[["x", "y", "w", "h"]].to_numpy(float) for key, g in boxes.groupby(["image", "class"])}


def _peak(heatmap: np.ndarray) -> tuple[int, int]:
    """Row and column of the maximum. A low-resolution map upsampled bilinearly has a flat plateau
    at its maximum (a 2×2 map gives a whole corner quadrant); ``argmax`` would then always pick the
    plateau's first pixel, often the image corner. Ties are broken by the plateau pixel nearest to the
    plateau's centroid instead."""
    top = heatmap.max()
    rows, cols = np.nonzero(heatmap >= top - 1e-6 * max(abs(top), 1e-12))
    if len(rows) == 1:
        return int(rows[0]), int(cols[0])
    nearest = np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2)
    return int(rows[nearest]), int(cols[nearest])


def point_localization_accuracy(
    heatmaps, boxes: pd.DataFrame, image_keys: Sequence[str], classes: Sequence[str],
    image_size: tuple[int, int],
) -> pd.DataFrame:
    """PYLON's point localisation accuracy.

    For every (image, class) with at least one ground-truth box, the class heatmap is upsampled
    bilinearly to ``image_size``; a hit is when its argmax pixel (centre; ties broken towards the
    centre of the maximum's plateau) lies inside any box of
    that class on that image. ``heatmaps (N, K, h, w)`` are aligned with ``image_keys``; ``boxes``
    (``image, class, x, y, w, h``) are in the pixel coordinates of ``image_size``.

    Returns one row per class with ``n``, ``hits``, ``accuracy``, plus rows ``"weighted"``
    (pooled over all boxes-bearing pairs) and ``"macro"`` (mean of class accuracies).
    """
    by_key = _boxes_by_key(boxes)
    position = {key: i for i, key in enumerate(image_keys)}
    hits = {c: 0 for c in classes}
    total = {c: 0 for c in classes}
    for (image, cls), bxs in by_key.items():
        if cls not in total or image not in position:
            continue
        up = _upsampled(heatmaps[position[image], list(classes).index(cls)], image_size)
        row, col = _peak(up)
        px, py = col + 0.5, row + 0.5
        inside = (bxs[:, 0] <= px) & (px <= bxs[:, 0] + bxs[:, 2]) & (bxs[:, 1] <= py) & (py <= bxs[:, 1] + bxs[:, 3])
        hits[cls] += int(inside.any())
        total[cls] += 1
    table = pd.DataFrame({"n": total, "hits": hits}).astype(int)
    table["accuracy"] = table["hits"] / table["n"].where(table["n"] > 0)
    weighted = table["hits"].sum() / max(table["n"].sum(), 1) if table["n"].sum() else np.nan
    table.loc["weighted"] = [table["n"].sum(), table["hits"].sum(), weighted]
    table.loc["macro"] = [table["n"].iloc[:-1].sum(), table["hits"].iloc[:-1].sum(),
                          table["accuracy"].iloc[:-1].mean()]
    return table


def iobb_scores(
    heatmaps, boxes: pd.DataFrame, image_keys: Sequence[str], classes: Sequence[str],
    image_size: tuple[int, int], threshold: float = 0.5,
) -> pd.DataFrame:
    """Intersection over the predicted bounding box (IoBB, Wang et al. 2017).

    Each upsampled heatmap is min-max normalised and thresholded at ``threshold``; every connected
    region gives a predicted box. For each ground-truth box, IoBB = max over predicted boxes of
    ``area(GT ∩ pred) / area(pred)``. Returns one row per ground-truth box with ``image, class, iobb``.
    """
    position = {key: i for i, key in enumerate(image_keys)}
    rows = []
    cache: dict[tuple[str, str], np.ndarray] = {}
    for _, gt in boxes.iterrows():
        if gt["class"] not in classes or gt["image"] not in position:
            continue
        key = (gt["image"], gt["class"])
        if key not in cache:
            up = _upsampled(heatmaps[position[key[0]], list(classes).index(key[1])], image_size)
            up = (up - up.min()) / (up.max() - up.min() + 1e-12)
            labelled, _ = scipy.ndimage.label(up >= threshold)
            slices = scipy.ndimage.find_objects(labelled)
            cache[key] = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices if s], float)
        pred = cache[key].reshape(-1, 4)
        gx0, gy0, gx1, gy1 = gt["x"], gt["y"], gt["x"] + gt["w"], gt["y"] + gt["h"]
        iw = np.clip(np.minimum(pred[:, 2], gx1) - np.maximum(pred[:, 0], gx0), 0, None)
        ih = np.clip(np.minimum(pred[:, 3], gy1) - np.maximum(pred[:, 1], gy0), 0, None)
        area = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
        rows.append((gt["image"], gt["class"], float((iw * ih / area).max()) if len(pred) else 0.0))
    return pd.DataFrame(rows, columns=["image", "class", "iobb"])


def heatmap_mass_in_mask(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Fraction of (positive) heatmap mass inside a mask, per map.

    ``maps (..., h, w)`` are upsampled bilinearly to the masks' ``(H, W)``; ``masks (..., H, W)``
    bool broadcast against the maps. Returns ``(...)`` in [0, 1]. Differentiable in ``maps``.
    """
    lead = maps.shape[:-2]
    flat = maps.reshape(-1, 1, *maps.shape[-2:])
    up = F.interpolate(flat, size=masks.shape[-2:], mode="bilinear", align_corners=False)
    up = up.reshape(*lead, *masks.shape[-2:]).clamp_min(0)
    inside = (up * masks.to(up.dtype)).sum((-2, -1))
    return inside / (up.sum((-2, -1)) + 1e-12)


# ----------------------------------------------------------------------------------------------
# Across seeds
# ----------------------------------------------------------------------------------------------
def mean_confidence_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t interval (n − 1 degrees of freedom).

    Returns ``(mean, nan)`` for a single value.
    """
    v = _np(values).ravel()
    v = v[~np.isnan(v)]
    if len(v) == 0:
        raise ValueError("no values to summarise")
    if len(v) == 1:
        return float(v[0]), float("nan")
    sem = v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(scipy.stats.t.ppf(0.5 + confidence / 2, len(v) - 1) * sem)
