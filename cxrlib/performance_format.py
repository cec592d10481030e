"""How the performance page and the book write times: one place, so that every section reads alike."""

from __future__ import annotations

__all__ = ["ms", "format_duration"]


def ms(seconds: float) -> str:
    """``"1,234 ms"``: how the performance page writes a step's time."""
    return f"{seconds * 1000:,.0f} ms"


def format_duration(seconds: float) -> str:
    """``"45 s"`` below two minutes, else ``"2.5 min"``: how the book writes a wall time."""
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"
