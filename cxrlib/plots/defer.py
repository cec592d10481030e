"""Figures of deferral: coverage curves, the cost sweep, and the images a rule deferred or kept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..maps import display_maps
from .colors import PALETTE, legend_below, outline_handle

__all__ = ["coverage_curves", "deferral_sweep", "deferral_examples"]


def _rule_styles(names: Sequence[str]) -> dict[str, dict]:
    """One colour and marker per deferral rule, in order (the same rule keeps its look across figures)."""
    markers = "osD^vP*X"
    return {n: {"color": PALETTE[i % len(PALETTE)], "marker": markers[i % len(markers)]} for i, n in enumerate(names)}


def coverage_curves(
    panels: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
    ylabel: str,
    title: str,
    references: Mapping[str, Mapping[str, float]] | None = None,
    panel: float = 3.6,
) -> plt.Figure:
    """One panel per key of ``panels`` (e.g. a class), one line per rule: ``(coverage, value)`` arrays,
    e.g. risk–coverage curves or system accuracy by coverage. ``references``: per panel, dashed
    horizontal lines ``{name: value}`` (e.g. the clinician alone)."""
    if not panels:
        raise ValueError("no curve to draw")
    names = list(dict.fromkeys(n for group in panels.values() for n in group))
    styles = _rule_styles(names)
    fig, axes = plt.subplots(1, len(panels), figsize=(panel * len(panels) + 1.5, panel), squeeze=False, sharey=True)
    for ax, (name, group) in zip(axes[0], panels.items(), strict=True):
        for label, (x, y) in group.items():
            ax.plot(x, y, lw=1.4, color=styles[label]["color"], label=label)
        for i, (ref, value) in enumerate((references or {}).get(name, {}).items()):
            ax.axhline(value, color="0.35", lw=0.9, ls=["--", ":", "-."][i % 3], label=ref)
        ax.set(xlabel="coverage (share of decisions kept)", xlim=(0, 1))
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def deferral_sweep(
    sweep: pd.DataFrame,
    references: Mapping[str, float] | None = None,
    title: str = "Cost sweep",
    order: Sequence[str] | None = None,
    unit: str = "decisions",
) -> plt.Figure:
    """A cost sweep of deferral rules: coverage against kept-set accuracy, kept-set AUROC and system
    accuracy, and the cost against coverage. ``sweep``: one row per rule and cost with columns
    ``rule``, ``cost``, ``coverage``, ``kept accuracy``, ``kept AUROC``, ``system accuracy`` (NaN where
    undefined: no point drawn). ``references``: dashed horizontal lines on the accuracy panels (e.g.
    ``{"classifier alone": 0.93, "clinician alone": 0.95}``). ``unit``: what the coverage counts
    ("decisions" or "images"), named on the axes."""
    names = list(order) if order is not None else list(dict.fromkeys(sweep["rule"]))
    styles = _rule_styles(names)
    fig, grid = plt.subplots(2, 2, figsize=(11, 8))
    axes = grid.ravel()
    panels = [
        ("kept accuracy", f"accuracy of the kept {unit}"),
        ("kept AUROC", "AUROC on the kept decisions"),
        ("system accuracy", "accuracy of model + clinician"),
    ]
    for name in names:
        part = sweep[sweep["rule"] == name].sort_values("cost")
        if part.empty:
            continue
        style = dict(color=styles[name]["color"], marker=styles[name]["marker"], ms=3, lw=1.2, label=name)
        for ax, (column, _) in zip(axes[:3], panels, strict=True):
            ax.plot(part["coverage"], part[column], **style)
        axes[3].plot(part["cost"], part["coverage"], **style)
    for ax, (column, label) in zip(axes[:3], panels, strict=True):
        if column != "kept AUROC":
            for i, (ref, value) in enumerate((references or {}).items()):
                ax.axhline(value, color="0.35", lw=0.9, ls=["--", ":", "-."][i % 3], label=ref)
        ax.set(xlabel=f"coverage (share of {unit} kept)", ylabel=label, xlim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[3].set(xlabel="cost of deferring c", ylabel=f"coverage (share of {unit} kept)", ylim=(0, 1.02))
    axes[3].grid(alpha=0.3)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()  # every rule and reference line, once, under the panels
    legend_below(fig, handles, labels)
    return fig


def deferral_examples(
    images: torch.Tensor,
    maps: Mapping[str, np.ndarray],
    rows: Mapping[str, Sequence[tuple[int, str, bool]]],
    title: str = "Deferred vs kept",
    panel: float = 2.0,
    alpha: float = 0.45,
    outlines: Mapping[int, np.ndarray] | None = None,
    outline_label: str = "the finding",
) -> plt.Figure:
    """One row per rule: the images it deferred and kept, each with a saliency map overlaid.

    ``images``: ``(N, 1, H, W)``; ``maps``: rule → ``(N, h, w)`` (the map of the class in question);
    ``rows``: rule → ``(image index, caption, deferred)`` per panel. Deferred panels get a red frame,
    kept ones a green frame. ``outlines``: image index → ``(H, W)`` binary mask (the finding), drawn
    as a white contour and named ``outline_label`` in a legend under the panels."""
    ncols = max((len(r) for r in rows.values()), default=0)
    if not ncols:
        raise ValueError("no image to show")
    fig, axes = plt.subplots(len(rows), ncols, figsize=(panel * ncols + 1.6, panel * 1.18 * len(rows)), squeeze=False)
    size = tuple(images.shape[-2:])
    for r, (name, picks) in enumerate(rows.items()):
        for j in range(ncols):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(picks):
                ax.axis("off")
                continue
            index, caption, deferred = picks[j]
            image = images[index, 0].numpy() if torch.is_tensor(images) else np.asarray(images[index, 0])
            heat = display_maps(torch.as_tensor(np.asarray(maps[name][index : index + 1]))[None].float(), size)
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.imshow(heat[0, 0].numpy(), cmap="jet", alpha=alpha, vmin=0, vmax=1)
            outline = (outlines or {}).get(index)
            if outline is not None and np.asarray(outline).any():
                ax.contour(np.asarray(outline, dtype=float), levels=[0.5], colors=["white"], linewidths=1.2)
            for spine in ax.spines.values():
                spine.set_edgecolor("tab:red" if deferred else "tab:green")
                spine.set_linewidth(2.5)
            ax.set_xlabel(caption, fontsize=9)
        axes[r, 0].set_ylabel(name, fontsize=10)
    fig.suptitle(title + " (red frame: deferred, green: kept)", fontsize=11)
    fig.tight_layout()
    if outlines:
        legend_below(fig, [outline_handle("white")], [f"white outline: {outline_label}"])
    return fig
