"""One section of a reliability report: its tables, figures, the sentences written from its numbers,
and, where the data do not allow it, the reason it is absent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["ReportSection", "absent"]


@dataclass
class ReportSection:
    """``key``: a short name (``"discrimination"``…); ``title``: its heading. ``available``: whether it
    was computed; if not, ``reason`` says why (the data lack boxes, the model has no linear last layer…).
    ``tables`` and ``figures`` (matplotlib) by caption; ``findings``: sentences written from the numbers;
    ``data``: the JSON-able numbers of the section; ``notes``: what a reader must know (sub-parts left
    out and why)."""

    key: str
    title: str
    available: bool = True
    reason: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def absent(key: str, title: str, reason: str) -> ReportSection:
    """A section the data do not allow, with the reason."""
    return ReportSection(key, title, available=False, reason=reason)
