"""Figures of numbers: training curves, runs and distributions, per-class heatmaps, reliability
diagrams, value histograms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..metrics import ReliabilityCurve
from .colors import legend_below

__all__ = [
    "training_curves",
    "runs_scatter",
    "group_distributions",
    "per_class_heatmap",
    "reliability_diagram",
    "value_histograms",
    "prior_precision_search",
]


def _robust_top(values: Sequence[float], later: Sequence[float]) -> float | None:
    """An upper y-limit that a first-epoch outlier does not set: from the values of the later epochs
    when some value stands far above them, else None (keep matplotlib's limits)."""
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    rest = np.asarray([x for x in later if np.isfinite(x)], float)
    if len(rest) < 2 or not len(v):
        return None
    spread = max(rest.max() - rest.min(), 1e-3)
    return float(rest.max() + 0.25 * spread) if v.max() > rest.max() + 2 * spread else None


def training_curves(histories: Mapping[str, pd.DataFrame], title: str = "Training curves") -> plt.Figure:
    """Train / val loss and val AUROC per epoch, one colour per run. When one value (typically the
    first epoch's loss) would flatten the rest, the loss axis is cut above the others and says so."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    losses, later = [], []
    for name, h in histories.items():
        line = a.plot(h["epoch"], h["train_loss"], "--", label=f"{name} train")[0]
        losses += list(h["train_loss"])
        later += list(h["train_loss"][h["epoch"] > 1])
        if "val_loss" in h:
            a.plot(h["epoch"], h["val_loss"], "-o", ms=3, color=line.get_color(), label=f"{name} val")
            b.plot(h["epoch"], h["val_auroc"], "-o", ms=3, color=line.get_color(), label=name)
            losses += list(h["val_loss"])
            later += list(h["val_loss"][h["epoch"] > 1])
    top = _robust_top(losses, later)
    if top is not None:
        a.set_ylim(top=top)
        a.text(0.99, 0.98, "larger values off the scale", transform=a.transAxes, ha="right", va="top", fontsize=9)
    a.set(xlabel="epoch", ylabel="loss", title="Loss (dashed: train, solid: validation)")
    b.set(xlabel="epoch", ylabel="mean AUROC", title="Validation mean AUROC")
    b.axhline(0.5, color="gray", lw=0.8, ls=":")
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.title.set_fontsize(10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    handles, names = b.get_legend_handles_labels()
    if not handles:  # histories without validation columns: the loss panel's train lines
        handles, names = a.get_legend_handles_labels()
    legend_below(fig, handles, names)
    return fig


def runs_scatter(table: pd.DataFrame, x: str, y: str, group: str, title: str) -> plt.Figure:
    """One point per trained model (rows of ``table``), coloured by ``group`` (e.g. the arm)."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    sns.scatterplot(data=table, x=x, y=y, hue=group, style=group, s=70, ax=ax)
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(title=group, fontsize=9, frameon=False, loc="best")
    fig.tight_layout()
    return fig


def group_distributions(
    table: pd.DataFrame,
    value: str,
    group: str,
    title: str,
    panel: str | None = None,
    reference: float | None = None,
    reference_label: str = "chance",
    value_label: str | None = None,
) -> plt.Figure:
    """Per group, a box plot with every model as a dot (``table``: one row per model); one panel per
    value of ``panel`` when given; ``reference`` draws a dashed horizontal line (e.g. chance).
    ``value_label`` names the y axis (default: the column name ``value``)."""
    import seaborn as sns

    panels = [None] if panel is None else list(dict.fromkeys(table[panel]))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 0.8, 4.0), squeeze=False, sharey=True)
    order = list(dict.fromkeys(table[group]))
    for ax, name in zip(axes[0], panels, strict=True):
        part = table if name is None else table[table[panel] == name]
        sns.boxplot(data=part, x=group, y=value, order=order, color="0.9", width=0.5, showfliers=False, ax=ax)
        sns.stripplot(data=part, x=group, y=value, order=order, hue=group, hue_order=order, size=6, ax=ax, legend=False)
        if reference is not None:
            ax.axhline(reference, ls="--", color="0.4", lw=1)
            ax.text(ax.get_xlim()[1], reference, f" {reference_label}", va="center", ha="left", fontsize=8, color="0.3")
        ax.set_title("" if name is None else str(name), fontsize=10)
        ax.set_xlabel("")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(value_label or value)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def per_class_heatmap(
    table: pd.DataFrame,
    title: str,
    vmin: float = 0.0,
    vmax: float = 1.0,
    center: float | None = None,
    cmap: str = "viridis",
    fmt: str = ".3f",
) -> plt.Figure:
    """A per-class table (rows: runs or models, columns: classes) as an annotated seaborn heatmap,
    every cell labelled with its value; ``center`` (e.g. 0.5 for AUROC) splits a diverging map."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(1.3 * table.shape[1] + 2.5, 0.55 * table.shape[0] + 1.6))
    sns.heatmap(
        table.astype(float),
        annot=True,
        fmt=fmt,
        vmin=vmin,
        vmax=vmax,
        center=center,
        cmap=cmap,
        linewidths=0.5,
        cbar_kws={"shrink": 0.8},
        ax=ax,
        annot_kws={"fontsize": 10},
    )
    ax.set_title(title, fontsize=11)
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right", fontsize=10)
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0, fontsize=10)
    fig.tight_layout()
    return fig


def reliability_diagram(
    curves: Mapping[str, ReliabilityCurve] | Mapping[str, Mapping[str, ReliabilityCurve]],
    title: str = "Reliability diagram",
    ncols: int = 3,
    panel: float = 3.2,
) -> plt.Figure:
    """Observed frequency against mean confidence per bin, one line per curve (e.g. ``"before"`` and
    ``"after"`` temperature scaling, each with its ECE in the legend) over the diagonal of perfect
    calibration, and below it each curve's bin counts (symlog scale) on the curve's own bin edges
    (equal-width or equal-mass).

    ``curves`` is ``{label: ReliabilityCurve}`` for one panel, or ``{panel title: {label: curve}}``
    for small multiples (e.g. one panel per class), ``ncols`` panels a row. Build the curves with
    :func:`cxrlib.metrics.reliability_curve`.
    """
    if not curves:
        raise ValueError("no reliability curve to draw")
    first = next(iter(curves.values()))
    panels = {"": curves} if isinstance(first, ReliabilityCurve) else dict(curves)
    for name, group in panels.items():
        if not group or not all(isinstance(c, ReliabilityCurve) for c in group.values()):
            raise ValueError(f"panel {name!r}: expected a non-empty mapping of label -> ReliabilityCurve")
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig = plt.figure(figsize=(panel * ncols, panel * 1.45 * nrows))
    # one cell per panel (room between rows for the next row's title), split into curve and counts
    two_line_titles = any(name and len(group) == 1 for name, group in panels.items())
    outer = fig.add_gridspec(nrows, ncols, hspace=0.55 if two_line_titles else 0.42, wspace=0.3)
    for i, (name, group) in enumerate(panels.items()):
        row, col = divmod(i, ncols)
        cell = outer[row, col].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
        top = fig.add_subplot(cell[0])
        bottom = fig.add_subplot(cell[1], sharex=top)
        top.plot([0, 1], [0, 1], color="gray", lw=0.8, ls=":")
        for label, curve in group.items():
            seen = curve.count > 0
            line = top.plot(
                curve.confidence[seen], curve.accuracy[seen], "-o", ms=3, label=f"{label} (ECE {curve.ece:.3f})"
            )[0]
            bottom.stairs(curve.count, curve.edges, color=line.get_color(), lw=1.2)
        top.set(xlim=(0, 1), ylim=(0, 1), ylabel="observed frequency" if col == 0 else "")
        top.tick_params(labelbottom=False)
        if name and len(group) == 1:  # one curve: its ECE in the panel's title, no legend box over the curve
            ((label, curve),) = group.items()
            top.set_title(f"{name}\n{label}: ECE {curve.ece:.3f}", fontsize=10)
        elif len(panels) == 1 and len(group) > 2:  # beside the panel, where it cannot hide a curve
            top.set_title(name, fontsize=10)
            top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.03, 1.0), frameon=False)
        else:
            top.set_title(name, fontsize=10)
            top.legend(fontsize=7, loc="upper left")
        bottom.set_yscale("symlog", linthresh=1)
        bottom.set(xlabel="mean confidence", ylabel="count" if col == 0 else "")
    fig.suptitle(title, fontsize=11)
    return fig


def value_histograms(
    panels: Mapping[str, Mapping[str, np.ndarray]], title: str, xlabel: str = "value", bins: int = 30
) -> plt.Figure:
    """One panel per key of ``panels``; in each, a density histogram per named group of values (e.g.
    "inside the box" / "outside the box"), on bins shared within the panel; a group without values
    is left out of its panel's legend."""
    ncols = len(panels) if len(panels) <= 2 else 2
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    for ax, (name, groups) in zip(axes.ravel(), panels.items(), strict=False):
        values = [np.asarray(v, float).ravel() for v in groups.values()]
        pooled = np.concatenate([v for v in values if v.size] or [np.zeros(1)])
        edges = np.histogram_bin_edges(pooled, bins)
        colors = ("tab:gray", "tab:red", "tab:blue", "tab:green")
        for label, v, color in zip(groups, values, colors, strict=False):
            if v.size:
                ax.hist(v, edges, density=True, alpha=0.55, color=color, label=f"{label} ({v.size})")
        ax.set_title(name, fontsize=11)
        ax.set_xlabel(xlabel, fontsize=10)
        ax.set_ylabel("density", fontsize=10)
        ax.legend(fontsize=9, frameon=False, loc="best")
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def prior_precision_search(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    marks: Mapping[str, float] | None = None,
    title: str = "Choosing the prior precision",
) -> plt.Figure:
    """The loss of every prior precision of a grid, ``name → (grid (G,), loss (G,))``, one line each on
    a log x-axis with its minimum as a dot; ``marks``: other choices (``name → λ``) as dotted lines."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name, (grid, loss) in curves.items():
        line = ax.plot(grid, loss, "-", lw=1.6, label=name)[0]
        best = int(np.nanargmin(loss))
        ax.plot(grid[best], loss[best], "o", color=line.get_color(), ms=6)
    for i, (name, value) in enumerate(sorted((marks or {}).items(), key=lambda item: item[1])):
        ax.axvline(value, ls=":", lw=1.2, color="gray")
        height = 0.98 - 0.33 * (i % 3)  # neighbouring marks' names at different heights, not on top of each other
        ax.text(value, height, f" {name}", transform=ax.get_xaxis_transform(), rotation=90, va="top", fontsize=9)
    ax.set_xscale("log")
    ax.set(xlabel="prior precision λ", ylabel="NLL (nats)", title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    legend_below(fig, *ax.get_legend_handles_labels())
    return fig
