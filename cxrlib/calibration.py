"""Post-hoc calibration of sigmoid outputs: temperature scaling (Guo et al. 2017), one T for all
classes or one per class, fitted by the Bernoulli NLL on validation logits.

The calibration metrics (ECE-15, adaptive ECE, Brier score, NLL) live beside the ECE in
:mod:`cxrlib.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import scipy.optimize
import torch

__all__ = ["TemperatureMode", "TemperatureScaling", "fit_temperature", "sigmoid_nll"]


class TemperatureMode(str, Enum):
    GLOBAL = "global"  #: one T shared by every class (Guo et al.'s temperature scaling)
    PER_CLASS = "per-class"  #: one T per class (column), each fitted on that class's known labels


def sigmoid_nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean Bernoulli NLL (nats) of ``logits`` against ``labels`` of the same shape, over the known labels
    (0 or 1; NaN, an unknown label, is left out as every metric of the suite does), computed stably from
    the logits: ``mean(log(1 + exp(z)) − y z)``. ``ValueError`` for different shapes, a label other than
    0, 1 or NaN, a non-finite logit at a known label, or no known label at all."""
    z, y = np.asarray(logits, np.float64), np.asarray(labels, np.float64)
    if z.shape != y.shape:
        raise ValueError(f"logits {z.shape} and labels {y.shape} differ in shape")
    known = ~np.isnan(y)
    if not known.any():
        raise ValueError("sigmoid_nll: no known label (every label is NaN)")
    z, y = z[known], y[known]
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("sigmoid_nll: labels must be 0, 1 or NaN (unknown)")
    if not np.isfinite(z).all():
        raise ValueError("sigmoid_nll: logits must be finite where the label is known")
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


@dataclass(frozen=True)
class TemperatureScaling:
    """A fitted temperature: calibrated logits are ``logits / temperature``.

    ``temperature`` is a 0-d array (global) or ``(K,)`` (one per class); ``nll_before`` and
    ``nll_after`` are the mean NLL on the fitting data (over all known labels) at T = 1 and at the
    fitted T. Dividing by a positive T keeps every class's ranking, so AUROC never changes.
    """

    temperature: np.ndarray
    mode: TemperatureMode
    nll_before: float
    nll_after: float

    def apply(self, logits):
        """``logits (..., K)`` (or ``(N,)`` for a global T) divided by the temperature; a tensor in, a
        tensor out (same device and dtype), anything else as a float64 numpy array."""
        t = np.asarray(self.temperature, np.float64)
        shape = tuple(logits.shape) if hasattr(logits, "shape") else np.shape(logits)
        if t.ndim == 1 and (len(shape) == 0 or shape[-1] != len(t)):
            raise ValueError(f"per-class temperatures for {len(t)} classes cannot scale logits of shape {shape}")
        if isinstance(logits, torch.Tensor):
            return logits / torch.as_tensor(t, dtype=logits.dtype, device=logits.device)
        return np.asarray(logits, np.float64) / t


def _checked(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K)`` (or ``(N,)``) float64 logits and labels, checked: same shape, finite logits, labels
    in {0, 1, NaN}."""
    z = logits.detach().cpu().double().numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits, np.float64)
    y = labels.detach().cpu().double().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels, np.float64)
    if z.shape != y.shape or z.ndim not in (1, 2):
        raise ValueError(
            f"temperature scaling needs (N, K) or (N,) logits and labels of one shape, got {z.shape} and {y.shape}"
        )
    if not np.isfinite(z).all():
        raise ValueError("logits contain NaN or infinite values; nothing is fitted on them")
    known = ~np.isnan(y)
    if not np.isin(y[known], (0.0, 1.0)).all():
        raise ValueError("labels must be 0, 1 or NaN (unknown)")
    if not known.any():
        raise ValueError("no known (non-NaN) label to fit a temperature on")
    return z, y


def _fit_one(z: np.ndarray, y: np.ndarray, bounds: tuple[float, float]) -> float:
    """The T in ``bounds`` minimising the mean NLL of ``z / T`` against ``y`` (1-d, all known).

    The NLL is convex in ``1 / T``, hence unimodal in ``log T``: bounded Brent on ``log T`` finds the
    minimum (or the bound it lies beyond, e.g. T → 0 for perfectly separated data).
    """
    result = scipy.optimize.minimize_scalar(
        lambda log_t: sigmoid_nll(z * np.exp(-log_t), y),
        bounds=(np.log(bounds[0]), np.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-7},
    )
    return float(np.exp(result.x))


def fit_temperature(
    logits,
    labels,
    mode: TemperatureMode | str = TemperatureMode.GLOBAL,
    bounds: tuple[float, float] = (0.01, 100.0),
    classes: Sequence[str] | None = None,
) -> TemperatureScaling:
    """Fit temperature scaling by minimising the Bernoulli NLL of ``sigmoid(logits / T)``.

    ``logits (N, K)`` (validation logits of a multi-label sigmoid model; ``(N,)`` for one class) and
    ``labels`` of the same shape in {0, 1, NaN}; unknown (NaN) labels are ignored. ``mode="global"``
    fits one T on every known label of every class; ``"per-class"`` one T per column on that
    column's known labels. T is searched in ``bounds``. ``classes`` only names columns in errors.

    Raises ``ValueError`` for NaN or infinite logits, a shape mismatch, labels other than 0/1/NaN,
    no known label at all (or, per class, a class without one), or an unknown ``mode``.
    """
    try:
        mode = TemperatureMode(mode)
    except ValueError:
        raise ValueError(
            f"unknown temperature mode {mode!r}; use one of {[m.value for m in TemperatureMode]}"
        ) from None
    if not 0 < bounds[0] < bounds[1]:
        raise ValueError(f"bounds must satisfy 0 < low < high, got {bounds}")
    z, y = _checked(logits, labels)
    known = ~np.isnan(y)
    before = sigmoid_nll(z[known], y[known])
    if mode is TemperatureMode.GLOBAL:
        t = np.asarray(_fit_one(z[known], y[known], bounds))
        after = sigmoid_nll(z[known] / t, y[known])
        return TemperatureScaling(t, mode, before, after)
    z2, y2, known2 = (z[:, None], y[:, None], known[:, None]) if z.ndim == 1 else (z, y, known)
    names = list(classes) if classes is not None else [str(k) for k in range(z2.shape[1])]
    empty = [names[k] for k in range(z2.shape[1]) if not known2[:, k].any()]
    if empty:
        raise ValueError(f"class(es) {empty} have no known label; a per-class temperature cannot be fitted")
    t = np.array([_fit_one(z2[known2[:, k], k], y2[known2[:, k], k], bounds) for k in range(z2.shape[1])])
    after = sigmoid_nll((z2 / t)[known2], y2[known2])
    return TemperatureScaling(t if z.ndim == 2 else t.reshape(()), mode, before, after)
