"""Formatters of the generated discussions: numbers, intervals and lists written the same way in every
study's prose ("undefined" where a number is missing or not finite)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["fmt", "with_ci", "signed", "join", "percent", "p_value", "short_ci", "bounded_ci"]


def _finite(x: float | None) -> bool:
    return x is not None and bool(np.isfinite(x))


def fmt(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals, or "undefined"."""
    return f"{x:.{digits}f}" if _finite(x) else "undefined"


def with_ci(mean: float | None, half: float | None, digits: int = 3) -> str:
    """``mean ± half`` (the half-width left out where it is missing or not finite)."""
    return fmt(mean, digits) + (f" ± {fmt(half, digits)}" if _finite(half) else "")


def signed(mean: float | None, half: float | None, digits: int = 3) -> str:
    """A difference with its sign, ``+0.012 ± 0.030`` (``digits`` decimals); "undefined" without a mean."""
    if not _finite(mean):
        return "undefined"
    return f"{mean:+.{digits}f}" + (f" ± {half:.{digits}f}" if _finite(half) else "")


def join(items: Iterable) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = [str(x) for x in items]
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]


def percent(q: float) -> str:
    """A share as a whole percentage: ``0.8`` → ``80%``."""
    return f"{round(100 * q)}%"


def p_value(p: float) -> str:
    """A p-value with two significant digits, or "undefined"."""
    return f"{p:.2g}" if _finite(p) else "undefined"


def short_ci(mean: float, half: float, digits: int = 2) -> str:
    """A table cell: ``0.62 ± 0.04`` (``digits`` decimals), ``0.62`` without a half-width, "–" without a mean."""
    if not _finite(mean):
        return "–"
    return f"{mean:.{digits}f}" if not _finite(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"


def bounded_ci(mean: float, half: float, low: float = 0.0, high: float = 1.0, digits: int = 2) -> str:
    """A table cell for a proportion or an AUROC: ``0.62 ± 0.04`` while the interval stays inside
    ``[low, high]``, else the clipped interval ``0.38 [0.00, 1.00]`` (a 2-seed Student-t half-width is
    12.7 standard deviations and often reaches past 0 or 1); otherwise as :func:`short_ci`."""
    if _finite(mean) and _finite(half) and (mean - half < low or mean + half > high):
        return f"{mean:.{digits}f} [{max(low, mean - half):.{digits}f}, {min(high, mean + half):.{digits}f}]"
    return short_ci(mean, half, digits)
