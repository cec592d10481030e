"""Comparing two groups of trained models: normality check, Mann–Whitney U and its effect sizes.

The heatmap-loss study trains a group of models per arm and compares a per-model score (e.g. the share
of the saliency map inside the heart) between the arms as its source does: Shapiro–Wilk on each group
first, then the two-sided Mann–Whitney U test at level α, with the effect size that goes with U.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

__all__ = ["GroupComparison", "compare_groups"]


@dataclass(frozen=True)
class GroupComparison:
    """Group ``a`` against group ``b`` (NaN entries dropped)."""

    n_a: int
    n_b: int
    median_a: float
    median_b: float
    shapiro_p_a: float  #: Shapiro–Wilk p of group a (NaN below 3 values or for a constant group)
    shapiro_p_b: float
    u: float  #: Mann–Whitney U of group a
    p: float  #: two-sided p
    common_language: float  #: P(a > b) + ½·P(a = b) = U / (n_a n_b)
    rank_biserial: float  #: 2·common_language − 1 in [−1, 1]; > 0: a tends to be larger
    alpha: float

    @property
    def significant(self) -> bool:
        return bool(np.isfinite(self.p) and self.p < self.alpha)

    @property
    def normal(self) -> bool:
        """Whether neither group's Shapiro–Wilk test rejects normality at ``alpha``."""
        return all(not (np.isfinite(p) and p < self.alpha) for p in (self.shapiro_p_a, self.shapiro_p_b))


def _shapiro(values: np.ndarray) -> float:
    if len(values) < 3 or np.ptp(values) == 0:
        return float("nan")
    return float(scipy.stats.shapiro(values).pvalue)


def compare_groups(a, b, alpha: float = 0.05) -> GroupComparison:
    """Shapiro–Wilk on each group, two-sided Mann–Whitney U of ``a`` vs ``b`` and its effect sizes.

    ``a``, ``b``: 1-D sequences of per-model scores; each needs at least one finite value, else
    ``ValueError``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) == 0 or len(y) == 0:
        raise ValueError(f"each group needs at least one finite value (got {len(x)} and {len(y)})")
    test = scipy.stats.mannwhitneyu(x, y, alternative="two-sided")
    cl = float(test.statistic) / (len(x) * len(y))
    return GroupComparison(
        n_a=len(x),
        n_b=len(y),
        median_a=float(np.median(x)),
        median_b=float(np.median(y)),
        shapiro_p_a=_shapiro(x),
        shapiro_p_b=_shapiro(y),
        u=float(test.statistic),
        p=float(test.pvalue),
        common_language=cl,
        rank_biserial=2 * cl - 1,
        alpha=alpha,
    )
