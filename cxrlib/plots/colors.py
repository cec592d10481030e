"""One colour per finding in every figure, and the legend placed under a figure's panels."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt

from ..data.classes import CHEXPERT_CLASSES, NIH_CLASSES, VINDR_CLASSES
from ..data.synthetic import SYNTH_CLASSES

__all__ = ["PALETTE", "CLASS_COLORS", "finding_color", "legend_below", "outline_handle"]


_FINDINGS = list(dict.fromkeys([*SYNTH_CLASSES, *CHEXPERT_CLASSES, *NIH_CLASSES, *VINDR_CLASSES]))
_ALIASES = {
    "Effusion": "Pleural Effusion",
    "Pleural effusion": "Pleural Effusion",
    "Infiltrate": "Infiltration",
    "Nodule/Mass": "Nodule",
    "Pleural thickening": "Pleural_Thickening",
}
#: the colours figures cycle through (findings, rules, runs)
PALETTE = list(plt.get_cmap("tab10").colors) + list(plt.get_cmap("Dark2").colors) + list(plt.get_cmap("Set1").colors)
#: one colour per finding, the same in every figure of the book (sources' spellings share a colour)
CLASS_COLORS = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(_FINDINGS)}


def finding_color(name: str):
    """The colour of finding ``name`` in every figure (unknown names get a stable colour of their own)."""
    name = _ALIASES.get(name, name)
    if name not in CLASS_COLORS:
        CLASS_COLORS[name] = PALETTE[len(CLASS_COLORS) % len(PALETTE)]
    return CLASS_COLORS[name]


def legend_below(fig: plt.Figure, handles: Sequence, names: Sequence[str], columns: int = 4) -> None:
    """One legend for the whole figure, under its panels, where it cannot hide data (the notebook's tight
    bounding box takes it in)."""
    if handles:
        fig.legend(
            handles,
            names,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=min(columns, len(handles)),
            fontsize=9,
            frameon=False,
        )


def outline_handle(color) -> plt.Line2D:
    """A legend entry for a contour of ``color``, edged in black so that a white outline shows on the
    legend's white ground."""
    from matplotlib import patheffects

    return plt.Line2D(
        [], [], color=color, lw=1.6, path_effects=[patheffects.withStroke(linewidth=3.2, foreground="black")]
    )
