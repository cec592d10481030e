"""Metrics: AUROC, calibration (ECE with equal-width or equal-mass bins, reliability curve, Brier
score, NLL), localisation (point accuracy, IoBB, mask mass: :mod:`cxrlib.localization`, re-exported
here) and Student-t confidence intervals across seeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.stats
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from .localization import heatmap_mass_in_mask, iobb_or_iou_hits, iobb_scores, point_localization_accuracy

__all__ = [
    "auroc",
    "per_class_auroc",
    "average_precision",
    "per_class_average_precision",
    "CalibrationKind",
    "Binning",
    "ReliabilityCurve",
    "reliability_curve",
    "expected_calibration_error",
    "adaptive_calibration_error",
    "per_class_ece",
    "brier_score",
    "negative_log_likelihood",
    "point_localization_accuracy",
    "iobb_scores",
    "iobb_or_iou_hits",
    "heatmap_mass_in_mask",
    "mean_confidence_interval",
]


def _np(x) -> np.ndarray:
    """Any array-like as float64 numpy (tensors of any float dtype are widened, never narrowed)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Discrimination
# ----------------------------------------------------------------------------------------------
def _binary_inputs(scores, labels, what: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    """One class's ``(N,)`` scores and 0/1 labels with the unknown (NaN) labels left out, checked."""
    s, y = _np(scores).ravel(), _np(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{what} {s.shape} and labels {y.shape} differ in shape")
    keep = ~np.isnan(y)
    s, y = s[keep], y[keep]
    if np.isnan(s).any():
        raise ValueError(f"{what} contain NaN")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0, 1 or NaN")
    return s, y


def auroc(scores, labels) -> float:
    """Area under the ROC curve of one class (scikit-learn's ``roc_auc_score``; ties count half).

    ``scores (N,)`` are any monotone score: pass logits rather than probabilities, since a float32
    sigmoid saturates at 1.0 for logits above ~17 and ties what the logits still rank. ``labels
    (N,)`` in {0, 1, NaN}; NaN labels are ignored. Returns NaN when only one label value is present.
    """
    s, y = _binary_inputs(scores, labels)
    if y.size == 0 or y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, s))


def average_precision(scores, labels) -> float:
    """Average precision (area under the precision-recall curve, scikit-learn's definition) of one
    class; NaN labels ignored; NaN when there is no positive."""
    s, y = _binary_inputs(scores, labels)
    if not (y == 1).any():
        return float("nan")
    return float(average_precision_score(y, s))


def per_class_auroc(scores, labels, classes: Sequence[str] | None = None) -> pd.Series:
    """AUROC per column of ``(N, K)`` scores/labels (logits preferred, see :func:`auroc`), plus
    ``"mean"`` over the classes that have one."""
    return _per_class(auroc, scores, labels, classes)


def per_class_average_precision(scores, labels, classes: Sequence[str] | None = None) -> pd.Series:
    """Average precision per column of ``(N, K)`` scores/labels, plus ``"mean"``."""
    return _per_class(average_precision, scores, labels, classes)


def _per_class(metric, scores, labels, classes: Sequence[str] | None) -> pd.Series:
    s, y = _np(scores), _np(labels)
    if s.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"expected (N, K) scores and labels of one shape, got {s.shape} and {y.shape}")
    classes = list(classes) if classes is not None else [str(k) for k in range(s.shape[1])]
    if len(classes) != s.shape[1]:
        raise ValueError(f"{len(classes)} class names for {s.shape[1]} score columns")
    values = [metric(s[:, k], y[:, k]) for k in range(s.shape[1])]
    out = pd.Series(values, index=classes, dtype=float)
    out["mean"] = np.nanmean(values) if not np.isnan(values).all() else np.nan
    return out


# ----------------------------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------------------------
class CalibrationKind(str, Enum):
    """What an ECE measures; explicit whenever labels are ``(N, K)``, where both kinds make sense."""

    BINARY = "binary"  #: ``(N,)`` positive-class probability against ``(N,)`` 0/1 labels
    TOP_LABEL = "top-label"  #: ``(N, C)`` softmax: top-class confidence against correctness
    MARGINAL = "marginal"  #: ``(N, K)`` multi-label sigmoids: mean over classes of the binary ECE


class Binning(str, Enum):
    """How a reliability curve (and so an ECE) cuts [0, 1] into bins."""

    EQUAL_WIDTH = "equal-width"  #: ``linspace(0, 1, n_bins + 1)`` (the classic ECE-15)
    EQUAL_MASS = "equal-mass"  #: quantiles of the confidences, first and last edge 0 and 1 (adaptive ECE)


def _resolve_binning(binning: Binning | str) -> Binning:
    try:
        return Binning(binning)
    except ValueError:
        raise ValueError(f"unknown binning {binning!r}; use one of {[b.value for b in Binning]}") from None


@dataclass
class ReliabilityCurve:
    """Bins on [0, 1] (equal-width or equal-mass): mean confidence, observed frequency and count per bin."""

    edges: np.ndarray  # (n_bins + 1,)
    confidence: np.ndarray  # (n_bins,) NaN for empty bins
    accuracy: np.ndarray  # (n_bins,) NaN for empty bins
    count: np.ndarray  # (n_bins,)

    @property
    def ece(self) -> float:
        """Expected calibration error: Σ_b n_b / N · |acc_b − conf_b|; NaN when there is no sample."""
        n = self.count.sum()
        if n == 0:
            return float("nan")
        gaps = np.nan_to_num(np.abs(self.accuracy - self.confidence))
        return float((self.count / n * gaps).sum())


def _resolve_kind(p: np.ndarray, y: np.ndarray, kind: CalibrationKind | str | None) -> CalibrationKind:
    if kind is not None:
        try:
            return CalibrationKind(kind)
        except ValueError:
            raise ValueError(
                f"unknown calibration kind {kind!r}; use one of {[k.value for k in CalibrationKind]}"
            ) from None
    if p.ndim == 1:
        return CalibrationKind.BINARY
    if p.ndim == 2 and y.ndim == 1:
        return CalibrationKind.TOP_LABEL
    raise ValueError(
        f"probs {p.shape} with labels {y.shape} can be read two ways: pass kind='marginal' "
        "(multi-label sigmoids, mean of per-class binary ECEs) or kind='top-label' "
        "(softmax probabilities with one-hot labels)"
    )


def _confidence_and_outcome(p: np.ndarray, y: np.ndarray, kind: CalibrationKind) -> tuple[np.ndarray, np.ndarray]:
    if kind is CalibrationKind.BINARY:
        if p.ndim != 1 or p.shape != y.shape:
            raise ValueError(f"binary calibration needs (N,) probs and (N,) labels, got {p.shape} and {y.shape}")
        return _binary_inputs(p, y, "probabilities")
    if kind is CalibrationKind.TOP_LABEL:
        if p.ndim != 2 or y.shape not in ((p.shape[0],), p.shape):
            raise ValueError(
                f"top-label calibration needs (N, C) probs and (N,) class indices or (N, C) one-hot "
                f"labels, got {p.shape} and {y.shape}"
            )
        if y.ndim == 2:
            if np.isnan(y).any() or not ((y == 0) | (y == 1)).all() or not (y.sum(1) == 1).all():
                raise ValueError("one-hot labels must hold exactly one 1 per row and no NaN")
            y = y.argmax(1)
        return p.max(1), (p.argmax(1) == y).astype(float)
    raise ValueError("marginal calibration is a mean over classes: use expected_calibration_error or per_class_ece")


def reliability_curve(
    probs,
    labels,
    n_bins: int = 15,
    kind: CalibrationKind | str | None = None,
    binning: Binning | str = Binning.EQUAL_WIDTH,
) -> ReliabilityCurve:
    """Reliability-diagram data for a binary or a top-label kind (see ``expected_calibration_error``).

    Bins are ``[e_b, e_{b+1})``, the last one closed, so a confidence exactly on an edge falls in the
    upper bin, as in netcal (scipy's binned statistics). ``binning="equal-width"``: ``edges =
    linspace(0, 1, n_bins + 1)``; ``"equal-mass"``: the ``b / n_bins`` quantiles of the confidences
    with the first and last edge set to 0 and 1, as netcal's ``equal_intervals=False`` (tied
    confidences can leave some bins empty).
    """
    binning = _resolve_binning(binning)
    p, y = _np(probs), _np(labels)
    conf, outcome = _confidence_and_outcome(p, y, _resolve_kind(p, y, kind))
    if np.isnan(conf).any():
        raise ValueError("probabilities contain NaN")
    if ((conf < 0) | (conf > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    if binning is Binning.EQUAL_MASS and conf.size:
        edges = np.quantile(conf, edges)
        edges[0], edges[-1] = 0.0, 1.0
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, conf, n_bins) / count
        mean_acc = np.bincount(idx, outcome, n_bins) / count
    return ReliabilityCurve(edges, mean_conf, mean_acc, count)


def expected_calibration_error(
    probs,
    labels,
    n_bins: int = 15,
    kind: CalibrationKind | str | None = None,
    binning: Binning | str = Binning.EQUAL_WIDTH,
) -> float:
    """ECE with ``n_bins`` equal-width bins (Naeini et al. 2015; Guo et al. 2017), or equal-mass ones
    with ``binning="equal-mass"`` (see :func:`adaptive_calibration_error`).

    * ``kind="binary"`` (inferred for ``(N,)`` inputs): positive-class probability vs 0/1 labels.
    * ``kind="top-label"`` (inferred for ``(N, C)`` probs with ``(N,)`` class indices; explicit for
      ``(N, C)`` one-hot labels): confidence of the arg-max class vs whether it is right.
    * ``kind="marginal"`` (must be explicit): multi-label ``(N, K)`` sigmoids with ``(N, K)`` labels
      (NaN = unknown): the mean of the per-class binary ECEs over classes that have a known label.

    NaN labels are left out; an ECE with no sample at all is NaN (never 0).
    """
    p, y = _np(probs), _np(labels)
    kind = _resolve_kind(p, y, kind)
    if kind is CalibrationKind.MARGINAL:
        per = per_class_ece(p, y, n_bins, binning)
        return float(np.nanmean(per)) if not np.isnan(per).all() else float("nan")
    return reliability_curve(p, y, n_bins, kind, binning).ece


def adaptive_calibration_error(probs, labels, n_bins: int = 15, kind: CalibrationKind | str | None = None) -> float:
    """Adaptive (equal-mass) ECE: as :func:`expected_calibration_error`, with bins that each hold about
    ``N / n_bins`` samples (Nguyen and O'Connor 2015; Nixon et al. 2019), so that the sparse
    high-confidence bins of the equal-width ECE do not dominate. Equals netcal's
    ``ECE(bins, equal_intervals=False)``. Same ``kind`` rules and NaN handling as the ECE.
    """
    return expected_calibration_error(probs, labels, n_bins, kind, Binning.EQUAL_MASS)


def per_class_ece(probs, labels, n_bins: int = 15, binning: Binning | str = Binning.EQUAL_WIDTH) -> np.ndarray:
    """``(K,)`` binary ECE of each column of multi-label ``(N, K)`` probabilities; NaN for a class
    without any known label. Equal-mass bins are cut per class."""
    p, y = _np(probs), _np(labels)
    if p.ndim != 2 or p.shape != y.shape:
        raise ValueError(f"per-class ECE needs (N, K) probs and labels of one shape, got {p.shape} and {y.shape}")
    return np.array(
        [reliability_curve(p[:, k], y[:, k], n_bins, CalibrationKind.BINARY, binning).ece for k in range(p.shape[1])]
    )


def _proper_score(score, probs, labels, kind: CalibrationKind | str | None, name: str) -> float:
    """A per-sample score of ``(N,)`` probabilities against 0/1 labels, averaged over the known labels
    (binary kind) or averaged per class and then over the classes that have a known label (marginal)."""
    p, y = _np(probs), _np(labels)
    kind = _resolve_kind(p, y, kind)
    if kind is CalibrationKind.TOP_LABEL:
        raise ValueError(f"{name} is defined here for binary and marginal (multi-label sigmoid) probabilities")
    if kind is CalibrationKind.MARGINAL:
        if p.ndim != 2 or p.shape != y.shape:
            raise ValueError(f"marginal {name} needs (N, K) probs and labels of one shape, got {p.shape} and {y.shape}")
        per = np.array(
            [_proper_score(score, p[:, k], y[:, k], CalibrationKind.BINARY, name) for k in range(p.shape[1])]
        )
        return float(np.nanmean(per)) if not np.isnan(per).all() else float("nan")
    s, outcome = _confidence_and_outcome(p, y, kind)
    if ((s < 0) | (s > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return float(score(s, outcome).mean()) if s.size else float("nan")


def brier_score(probs, labels, kind: CalibrationKind | str | None = None) -> float:
    """Brier score: mean ``(p − y)²`` over the known labels (scikit-learn's ``brier_score_loss``).

    ``kind`` as for the ECE: ``"binary"`` for ``(N,)`` inputs, ``"marginal"`` (explicit) for
    multi-label ``(N, K)`` sigmoids, where it is the mean over classes of the per-class scores.
    NaN labels are left out; NaN when no label is known.
    """
    return _proper_score(lambda p, y: (p - y) ** 2, probs, labels, kind, "the Brier score")


def negative_log_likelihood(probs, labels, kind: CalibrationKind | str | None = None, eps: float = 1e-12) -> float:
    """Bernoulli negative log-likelihood (nats): mean ``−[y log p + (1 − y) log(1 − p)]`` over the known
    labels, with ``p`` clipped to ``[eps, 1 − eps]`` (scikit-learn's ``log_loss`` up to the clipping).

    ``kind`` and NaN handling as :func:`brier_score`. From logits it is better computed directly
    (``BCE with logits``): a float32 sigmoid saturates at 1.0 for logits above ~17.
    """

    def nll(p: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = np.clip(p, eps, 1 - eps)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p))

    return _proper_score(nll, probs, labels, kind, "the negative log-likelihood")


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
