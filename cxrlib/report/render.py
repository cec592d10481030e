"""A reliability report as one self-contained HTML file (figures embedded as PNG) and as JSON."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from .section import ReportSection

__all__ = ["jsonable", "figure_png", "section_html", "report_fragment", "report_html", "report_json"]

#: the standalone page's body; everything else is scoped to the report's <div>, so that a report shown in a
#: notebook or a book page restyles nothing around it
_PAGE_STYLE = (
    "body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }"
)
_STYLE = """
.cxr-report .cxr-title { font-size: 1.5em; font-weight: 600; margin: .4em 0; }
.cxr-report .cxr-section { font-size: 1.2em; font-weight: 600; border-bottom: 1px solid #ccc; padding-bottom: .2em;
  margin-top: 1.6em; }
.cxr-report .cxr-caption { font-weight: 600; margin: 1em 0 .3em; }
.cxr-report table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
.cxr-report th, .cxr-report td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
.cxr-report th { background: #f4f4f4; }
.cxr-report td:first-child, .cxr-report th:first-child { text-align: left; }
.cxr-report .absent { color: #8a4b00; background: #fff6e8; padding: .5em .8em; border-left: 3px solid #e0a040; }
.cxr-report .note { color: #555; font-size: .92em; } .cxr-report figure { margin: 1em 0; }
.cxr-report figcaption { font-size: .9em; color: #444; } .cxr-report img { max-width: 100%; }
.cxr-report table.settings td { text-align: left; }
"""


def jsonable(value: Any) -> Any:
    """``value`` with NaN as None, numpy scalars and arrays as Python values, tuple keys joined."""
    if isinstance(value, dict):
        return {(" / ".join(map(str, k)) if isinstance(k, tuple) else str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def figure_png(figure) -> str:
    """A matplotlib figure as base64 PNG text."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table_html(table: pd.DataFrame) -> str:
    return table.to_html(float_format=lambda v: f"{v:.3f}", na_rep="—", border=0)


def section_html(section: ReportSection) -> str:
    parts = [f'<p class="cxr-section">{html.escape(section.title)}</p>']
    if not section.available:
        return parts[0] + f'<p class="absent">Not computed: {html.escape(section.reason)}.</p>'
    parts += [f"<p>{html.escape(line)}</p>" for line in section.findings]
    for caption, table in section.tables.items():
        parts.append(f'<p class="cxr-caption">{html.escape(caption)}</p>{_table_html(table)}')
    for caption, figure in section.figures.items():
        parts.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{figure_png(figure)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    parts += [f'<p class="note">{html.escape(line)}</p>' for line in section.notes]
    return "\n".join(parts)


def report_fragment(title: str, settings: dict[str, Any], sections: list[ReportSection]) -> str:
    """The report as one ``<div class="cxr-report">`` with its own scoped style: what a notebook shows."""
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in settings.items()
    )
    summary = "".join(
        f"<li>{html.escape(s.title)}: "
        + ("computed" if s.available else f"not computed ({html.escape(s.reason)})")
        + "</li>"
        for s in sections
    )
    body = "\n".join(section_html(s) for s in sections)
    return (
        f'<div class="cxr-report"><style>{_STYLE}</style><p class="cxr-title">{html.escape(title)}</p>'
        f"<table class='settings'>{rows}</table><ul>{summary}</ul>{body}</div>"
    )


def report_html(title: str, settings: dict[str, Any], sections: list[ReportSection]) -> str:
    """The whole report as one self-contained HTML document."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_PAGE_STYLE}</style></head><body>{report_fragment(title, settings, sections)}</body></html>"
    )


def report_json(settings: dict[str, Any], sections: list[ReportSection]) -> str:
    return json.dumps(
        jsonable(
            {
                "settings": settings,
                "sections": {
                    s.key: {
                        "title": s.title,
                        "available": s.available,
                        "reason": s.reason,
                        "findings": s.findings,
                        "notes": s.notes,
                        "data": s.data,
                    }
                    for s in sections
                },
            }
        ),
        indent=1,
    )
