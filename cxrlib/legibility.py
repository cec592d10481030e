"""Figures a reader can read on the book's page.

A figure is shown in the book at most as wide as the page's output column (:data:`COLUMN_PX`, about
676 CSS pixels at 1280 px), so a wide figure is scaled down with all its text. Two rules keep its text
legible:

- No text in a figure shown in a notebook is smaller than :data:`MIN_TEXT_PT` points, nor smaller than
  what its width needs to keep :data:`MIN_SCREEN_PX` on the page (:func:`required_text_pt`): imported
  in IPython, :mod:`cxrlib.plots` wraps the notebook's PNG formatter (:func:`install_notebook_hook`),
  which raises any smaller text to that size (:func:`raise_small_text`) and writes the figure's
  smallest text size into the PNG (tEXt key :data:`PNG_TEXT_KEY`).
- The book's browser test reads that size back with the PNG's dpi, its natural width and the width the
  page shows it at, and requires at least :data:`MIN_SCREEN_PX` CSS pixels on screen
  (:func:`text_px_on_screen`); a figure too wide for its text fails there.
"""

from __future__ import annotations

import math
from functools import wraps

from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = [
    "MIN_TEXT_PT",
    "MIN_SCREEN_PX",
    "PNG_TEXT_KEY",
    "visible_texts",
    "smallest_text_pt",
    "raise_small_text",
    "text_px_on_screen",
    "COLUMN_PX",
    "required_text_pt",
    "shown_width_in",
    "install_notebook_hook",
]

#: the smallest text a figure shown in a notebook may have, in points at the figure's own size
MIN_TEXT_PT = 10.0
#: the smallest text on the book's page, in CSS pixels, once the figure is scaled to its column
MIN_SCREEN_PX = 8.0
#: the widest a figure is shown in the book: the output column at a 1280 px window (CSS pixels)
COLUMN_PX = 676
#: the PNG text chunk that carries a notebook figure's smallest text size (points)
PNG_TEXT_KEY = "cxrlib-smallest-text-pt"


def visible_texts(fig: Figure) -> list[Text]:
    """Every visible, non-empty text artist of ``fig``: titles, labels, tick labels, legends, annotations."""
    texts = []
    for artist in fig.findobj(Text):
        if not artist.get_visible() or not artist.get_text().strip():
            continue
        parent = artist.axes
        if parent is not None and not parent.get_visible():
            continue
        texts.append(artist)
    return texts


def smallest_text_pt(fig: Figure) -> float:
    """The size in points of the smallest visible text of ``fig`` (tick labels included); inf without text."""
    sizes = [t.get_fontsize() for t in visible_texts(fig)]
    return float(min(sizes)) if sizes else math.inf


def raise_small_text(fig: Figure, min_pt: float = MIN_TEXT_PT) -> int:
    """Set every visible text of ``fig`` smaller than ``min_pt`` points to ``min_pt`` (tick labels through
    their axes' tick parameters, so that ticks made later follow); returns how many texts were raised."""
    raised = 0
    for ax in fig.axes:
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            small = [t for t in axis.get_ticklabels() if t.get_text().strip() and t.get_fontsize() < min_pt]
            if small:
                ax.tick_params(axis=name, labelsize=min_pt)
                raised += len(small)
    for text in visible_texts(fig):
        if text.get_fontsize() < min_pt:
            text.set_fontsize(min_pt)
            raised += 1
    return raised


def text_px_on_screen(text_pt: float, dpi: float, natural_px: float, shown_px: float) -> float:
    """CSS pixels of text ``text_pt`` points high in a PNG rendered at ``dpi`` that is ``natural_px``
    wide and shown ``shown_px`` wide (a browser never scales an image up past its natural width)."""
    return text_pt * dpi / 72.0 * min(1.0, shown_px / natural_px)


def required_text_pt(width_in: float) -> float:
    """The smallest text a figure ``width_in`` inches wide (as saved) may have: :data:`MIN_TEXT_PT`, or
    more where the figure is scaled into :data:`COLUMN_PX` far enough to bring that under
    :data:`MIN_SCREEN_PX` (a figure of width W is shown at ``COLUMN_PX / W`` CSS pixels per inch)."""
    return max(MIN_TEXT_PT, MIN_SCREEN_PX * 72.0 * width_in / COLUMN_PX)


def shown_width_in(fig: Figure) -> float:
    """The width in inches of ``fig`` as the notebook saves it (its tight bounding box and padding)."""
    fig.canvas.draw()
    return float(fig.get_tightbbox(fig.canvas.get_renderer()).width) + 0.2


def install_notebook_hook() -> bool:
    """In IPython, wrap the PNG formatter of matplotlib figures: raise small text, record the smallest
    size in the PNG. Returns whether a formatter was wrapped (False outside IPython or without inline
    PNG figures); calling it again does nothing more."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        previous = formatter.lookup_by_type(Figure)
    except KeyError:
        return False
    if getattr(previous, "cxrlib_legible", False):
        return True

    @wraps(previous)
    def legible_png(fig: Figure, *args, **kwargs):
        if fig.axes:
            for _ in range(3):  # larger text can widen the bounding box: measure again (2 % to spare)
                if not raise_small_text(fig, required_text_pt(1.02 * shown_width_in(fig))):
                    break
        metadata = {**kwargs.pop("metadata", {}), PNG_TEXT_KEY: f"{smallest_text_pt(fig):.2f}"}
        return previous(fig, *args, metadata=metadata, **kwargs)

    legible_png.cxrlib_legible = True
    formatter.for_type(Figure, legible_png)
    return True
