"""cxrlib.legibility: small text raised at display time, its size written into the PNG, and the
on-screen arithmetic the browser test applies."""

import base64
import io

import matplotlib.pyplot as plt
import pytest
from IPython.core.pylabtools import select_figure_formats
from matplotlib.figure import Figure
from PIL import Image

from cxrlib import legibility


def _small_text_figure() -> Figure:
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.set_title("title", fontsize=6)
    ax.tick_params(labelsize=5)
    ax.legend(fontsize=4)
    fig.text(0.5, 0.01, "caption", fontsize=3)
    fig.canvas.draw()
    return fig


def test_smallest_text_counts_titles_ticks_legends_and_free_text():
    fig = _small_text_figure()
    assert legibility.smallest_text_pt(fig) == pytest.approx(3.0)
    fig.texts[0].set_visible(False)  # hidden text is not read
    assert legibility.smallest_text_pt(fig) == pytest.approx(4.0)
    plt.close(fig)


def test_raise_small_text_lifts_every_kind_and_leaves_larger_text():
    fig = _small_text_figure()
    fig.axes[0].set_xlabel("x", fontsize=14)
    assert legibility.raise_small_text(fig, 9.0) > 0
    fig.canvas.draw()  # ticks made at a later draw follow the axes' tick parameters
    assert legibility.smallest_text_pt(fig) == pytest.approx(9.0)
    assert fig.axes[0].xaxis.label.get_fontsize() == 14
    assert legibility.raise_small_text(fig, 9.0) == 0
    plt.close(fig)


def test_text_px_on_screen_scales_down_never_up():
    # 9 pt at 100 dpi is 12.5 px; a 1352 px figure shown 676 px wide halves it
    assert legibility.text_px_on_screen(9.0, 100.0, 1352, 676) == pytest.approx(6.25)
    assert legibility.text_px_on_screen(9.0, 100.0, 500, 676) == pytest.approx(12.5)


def test_notebook_hook_raises_text_and_records_it_in_the_png():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        select_figure_formats(shell, {"png"})  # what `%matplotlib inline` registers
        assert legibility.install_notebook_hook()
        assert legibility.install_notebook_hook()  # a second call does not wrap twice
        fig = _small_text_figure()
        data = shell.display_formatter.formatters["image/png"](fig)
        png = Image.open(io.BytesIO(base64.b64decode(data)))
        assert float(png.text[legibility.PNG_TEXT_KEY]) == pytest.approx(legibility.MIN_TEXT_PT)
        plt.close(fig)
    finally:
        InteractiveShell.clear_instance()


def test_wide_figures_need_larger_text_and_the_hook_gives_it():
    assert legibility.required_text_pt(4.0) == legibility.MIN_TEXT_PT
    wide = legibility.required_text_pt(16.0)
    # at that size, a 16-inch figure shown in the column keeps MIN_SCREEN_PX
    px = legibility.text_px_on_screen(wide, 100.0, 16.0 * 100, legibility.COLUMN_PX)
    assert px == pytest.approx(legibility.MIN_SCREEN_PX)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        select_figure_formats(shell, {"png"})
        legibility.install_notebook_hook()
        fig, axes = plt.subplots(1, 6, figsize=(18, 3))
        for ax in axes:
            ax.set_title("panel", fontsize=8)
        png = Image.open(io.BytesIO(base64.b64decode(shell.display_formatter.formatters["image/png"](fig))))
        recorded = float(png.text[legibility.PNG_TEXT_KEY])
        on_screen = legibility.text_px_on_screen(recorded, png.info["dpi"][0], png.size[0], legibility.COLUMN_PX)
        assert on_screen >= legibility.MIN_SCREEN_PX - 0.05
        plt.close(fig)
    finally:
        InteractiveShell.clear_instance()
