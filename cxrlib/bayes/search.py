"""Choosing a prior precision: one-dimensional maximisation of a smooth function of a positive scalar on a
log scale, and the folds of a cross-validation."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.optimize
from sklearn.model_selection import KFold

__all__ = ["maximize_log_scalar", "kfold_held_out"]


def kfold_held_out(n: int, folds: int, seed: int = 0) -> list[np.ndarray]:
    """The held-out indices of each of ``folds`` folds of ``range(n)``, shuffled with ``seed``: the
    folds of scikit-learn's ``KFold(folds, shuffle=True, random_state=seed)``. Raises ``ValueError``
    unless ``2 <= folds <= n``."""
    if not 2 <= int(folds) <= n:
        raise ValueError(f"cross-validation needs 2 <= folds <= the number of samples ({n}), got {folds}")
    return [held for _, held in KFold(int(folds), shuffle=True, random_state=seed).split(np.zeros(n))]


def maximize_log_scalar(
    objective: Callable[[float], float], bounds: tuple[float, float] = (1e-6, 1e6), scan: int = 49
) -> float:
    """The ``x`` in ``bounds`` that maximises ``objective(x)``: a scan of ``scan`` log-spaced values, then
    Brent's bounded method on ``log x`` between the best value's neighbours (an evidence may have more
    than one local optimum; the scan finds the best basin). Raises ``ValueError`` for bad ``bounds``."""
    if len(bounds) != 2 or not 0 < float(bounds[0]) < float(bounds[1]) < math.inf:
        raise ValueError(f"bounds must be two increasing positive numbers, got {bounds}")
    lo, hi = math.log(float(bounds[0])), math.log(float(bounds[1]))
    negative = lambda t: -float(objective(math.exp(t)))  # noqa: E731
    grid = np.linspace(lo, hi, scan)
    values = [negative(t) for t in grid]
    i = int(np.argmin(values))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, scan - 1)]
    result = scipy.optimize.minimize_scalar(negative, bounds=(a, b), method="bounded", options={"xatol": 1e-6})
    return math.exp(float(result.x) if result.fun <= values[i] else float(grid[i]))
