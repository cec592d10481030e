"""Figures: image galleries with boxes and masks, label distributions, training curves, saliency
overlays. Each function draws into a new figure and returns it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.ticker import MaxNLocator

from .data.classes import CHEXPERT_CLASSES, NIH_CLASSES, VINDR_CLASSES
from .data.dataset import CXRDataset
from .data.synthetic import SYNTH_CLASSES
from .legibility import install_notebook_hook
from .maps import display_maps, flat_maps
from .metrics import ReliabilityCurve

__all__ = [
    "per_class_heatmap",
    "runs_scatter",
    "group_distributions",
    "image_gallery",
    "label_distribution",
    "training_curves",
    "legend_below",
    "saliency_overlays",
    "reliability_diagram",
    "coverage_curves",
    "deferral_sweep",
    "deferral_examples",
    "value_histograms",
    "CLASS_COLORS",
    "finding_color",
]

#: one colour per finding, the same in every figure of the book (sources' spellings share a colour)
_FINDINGS = list(dict.fromkeys([*SYNTH_CLASSES, *CHEXPERT_CLASSES, *NIH_CLASSES, *VINDR_CLASSES]))
_ALIASES = {
    "Effusion": "Pleural Effusion",
    "Pleural effusion": "Pleural Effusion",
    "Infiltrate": "Infiltration",
    "Nodule/Mass": "Nodule",
    "Pleural thickening": "Pleural_Thickening",
}
_PALETTE = list(plt.get_cmap("tab10").colors) + list(plt.get_cmap("Dark2").colors) + list(plt.get_cmap("Set1").colors)
CLASS_COLORS = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(_FINDINGS)}


def finding_color(name: str):
    """The colour of finding ``name`` in every figure (unknown names get a stable colour of their own)."""
    name = _ALIASES.get(name, name)
    if name not in CLASS_COLORS:
        CLASS_COLORS[name] = _PALETTE[len(CLASS_COLORS) % len(_PALETTE)]
    return CLASS_COLORS[name]


def image_gallery(
    ds: CXRDataset,
    positions: Sequence[int],
    ncols: int = 4,
    show_masks: bool = True,
    show_boxes: bool = True,
    title_fn=None,
    panel: float = 2.3,
    caption: str | None = None,
) -> plt.Figure:
    """Images at ``positions`` with their positive labels, masks (contours) and boxes (the ground
    truth where a source has one, else every box). A finding drawn on an image whose label for it
    is not positive is titled with that label (unknown after an uncertain report, or negative after
    label noise), so the title and the drawing agree."""
    nrows = int(np.ceil(len(positions) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols, (panel + 0.75) * nrows + 0.5), squeeze=False)
    boxes = ds.truth_boxes()  # the ground truth, not simulated or individual readers
    drawn: set[str] = set()
    for ax, pos in zip(axes.flat, positions):
        item = ds[int(pos)]
        ax.imshow(item["image"][0].numpy(), cmap="gray", vmin=0, vmax=1)
        key = ds.table.loc[int(pos), "image"]
        labels = item["labels"].numpy()
        positive = [c for c, v in zip(ds.classes, labels) if v == 1]
        on_image: set[str] = set()
        if show_masks and "masks" in item:
            for k, c in enumerate(ds.classes):
                if item["masks"][k].any():
                    drawn.add(c)
                    on_image.add(c)
                    ax.contour(
                        item["masks"][k].numpy().astype(float),
                        levels=[0.5],
                        colors=[finding_color(c)],
                        linewidths=0.8,
                    )
        if show_boxes:
            own = boxes[boxes["image"] == key]
            for _, b in own.iterrows():
                drawn.add(b["class"])
                on_image.add(b["class"])
                ax.add_patch(plt.Rectangle((b.x, b.y), b.w, b.h, fill=False, lw=1.2, color=finding_color(b["class"])))
        state = {c: "label unknown" if np.isnan(v) else "label negative" for c, v in zip(ds.classes, labels) if v != 1}
        shown = positive + [f"{c} ({state[c]})" for c in ds.classes if c in on_image and c in state]
        ax.set_title(title_fn(pos) if title_fn else ("\n".join(shown) or "no finding"), fontsize=10)
        ax.axis("off")
    for ax in list(axes.flat)[len(positions) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=finding_color(c), lw=2, label=c) for c in ds.classes if c in drawn]
    rows_of_legend = int(np.ceil(len(handles) / 5))
    bottom = (0.035 * rows_of_legend + 0.02) * 3 / nrows + (0.04 if caption else 0.0)
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=max(min(len(handles), 5), 1),
        fontsize=10,
        frameon=False,
        bbox_to_anchor=(0.5, 0.04 if caption else 0.0),
    )
    if caption:
        fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=9, style="italic")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def label_distribution(ds: CXRDataset) -> plt.Figure:
    """Positive / negative / unknown counts per class and split (stacked bars)."""
    splits = [s for s in ("train", "val", "test") if s in set(ds.table["split"])]
    fig, axes = plt.subplots(1, len(splits), figsize=(4.5 * len(splits), 3.9), squeeze=False)
    for ax, split in zip(axes.flat, splits):
        sub = ds.table[ds.table["split"] == split][ds.classes]
        pos, neg, unk = (sub == 1).sum(), (sub == 0).sum(), sub.isna().sum()
        x = np.arange(len(ds.classes))
        ax.bar(x, pos, color="black", label="positive")
        ax.bar(x, unk, bottom=pos, color="tab:gray", label="unknown / uncertain")
        ax.bar(x, neg, bottom=pos + unk, color="tab:blue", alpha=0.35, label="negative")
        ax.set_xticks(x, ds.classes, rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{split} (n={len(sub)})")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Labels per class and split (after the label policy; each split on its own scale)", fontsize=11)
    axes.flat[0].set_ylabel("images")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=3, fontsize=9, frameon=False, bbox_to_anchor=(0.5, 0.93))
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    return fig


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


def saliency_overlays(
    images: torch.Tensor,
    maps: Mapping[str, np.ndarray | torch.Tensor],
    classes: Sequence[str],
    class_index: Sequence[int],
    boxes: Sequence[pd.DataFrame] | None = None,
    panel: float = 2.6,
    alpha: float = 0.45,
    value_label: str = "Grad-CAM (min-max normalised)",
    row_labels: Sequence[str] | None = None,
    contours: Mapping[str, Sequence[np.ndarray | torch.Tensor]] | None = None,
) -> plt.Figure:
    """Grid: one row per image, first column the image, then one overlay per model (``maps`` name →
    ``(N, K, h, w)``) for the class ``class_index[i]`` of image ``i``, with that class's boxes.
    ``value_label`` names the colour bar; ``row_labels`` replace the class names beside the rows.
    ``contours``: name → one ``(H, W)`` binary mask per image (the heart, a marker, the finding),
    outlined on every panel and named in a legend, so that "on the heart" can be judged by eye."""
    names = list(maps)
    n = len(images)
    fig, axes = plt.subplots(n, 1 + len(names), figsize=(panel * (1 + len(names)) + 0.8, panel * n), squeeze=False)
    mappable = None
    size = tuple(images.shape[-2:])
    for i in range(n):
        k = class_index[i]
        image = images[i, 0].numpy() if torch.is_tensor(images) else np.asarray(images[i, 0])
        axes[i, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[i, 0].text(
            -0.04,
            0.5,
            classes[k] if row_labels is None else row_labels[i],
            rotation=90,
            ha="right",
            va="center",
            fontsize=10,
            transform=axes[i, 0].transAxes,
        )
        if i == 0:
            axes[i, 0].set_title("image", fontsize=10)
        for j, name in enumerate(names):
            m = torch.as_tensor(np.asarray(maps[name][i : i + 1, k : k + 1]), dtype=torch.float32)
            heat = display_maps(m, size)[0, 0].numpy()
            ax = axes[i, 1 + j]
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            mappable = ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1)
            if flat_maps(m)[0, 0]:
                ax.text(
                    0.5,
                    0.5,
                    "flat map:\nno peak",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white",
                    transform=ax.transAxes,
                    bbox={"facecolor": "black", "alpha": 0.5, "lw": 0},
                )
            if i == 0:
                ax.set_title(name, fontsize=10)
        for ax in axes[i]:
            for c, masks in enumerate((contours or {}).values()):
                mask = np.asarray(masks[i], dtype=float)
                if mask.any():
                    ax.contour(mask, levels=[0.5], colors=[_CONTOUR_COLORS[c % len(_CONTOUR_COLORS)]], linewidths=1.2)
            if boxes is not None:
                for _, b in boxes[i].iterrows():
                    ax.add_patch(
                        plt.Rectangle((b.x, b.y), b.w, b.h, fill=False, lw=1.4, color=finding_color(classes[k]))
                    )
            ax.axis("off")
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    if mappable is not None:
        cax = fig.add_axes((0.94, 0.15, 0.015, 0.7))
        fig.colorbar(mappable, cax=cax).set_label(value_label, fontsize=9)
    if contours:
        handles = [
            plt.Line2D([], [], color=_CONTOUR_COLORS[c % len(_CONTOUR_COLORS)], lw=1.2) for c in range(len(contours))
        ]
        legend_below(fig, handles, [f"outline: {label}" for label in contours])
    return fig


#: outline colours of saliency_overlays' contours: visible on grey images and on the jet colour map
_CONTOUR_COLORS = ("white", "magenta", "lime")


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
    fig = plt.figure(figsize=(panel * ncols, panel * 1.3 * nrows))
    grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[3, 1] * nrows, hspace=0.08, wspace=0.25)
    for i, (name, group) in enumerate(panels.items()):
        row, col = divmod(i, ncols)
        top = fig.add_subplot(grid[2 * row, col])
        bottom = fig.add_subplot(grid[2 * row + 1, col], sharex=top)
        top.plot([0, 1], [0, 1], color="gray", lw=0.8, ls=":")
        for label, curve in group.items():
            seen = curve.count > 0
            line = top.plot(
                curve.confidence[seen], curve.accuracy[seen], "-o", ms=3, label=f"{label} (ECE {curve.ece:.3f})"
            )[0]
            bottom.stairs(curve.count, curve.edges, color=line.get_color(), lw=1.2)
        top.set(xlim=(0, 1), ylim=(0, 1), ylabel="observed frequency" if col == 0 else "")
        top.set_title(name, fontsize=10)
        top.tick_params(labelbottom=False)
        top.legend(fontsize=7, loc="upper left")
        bottom.set_yscale("symlog", linthresh=1)
        bottom.set(xlabel="mean confidence", ylabel="count" if col == 0 else "")
    fig.suptitle(title, fontsize=11)
    return fig


def _rule_styles(names: Sequence[str]) -> dict[str, dict]:
    """One colour and marker per deferral rule, in order (the same rule keeps its look across figures)."""
    markers = "osD^vP*X"
    return {n: {"color": _PALETTE[i % len(_PALETTE)], "marker": markers[i % len(markers)]} for i, n in enumerate(names)}


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
) -> plt.Figure:
    """A cost sweep of deferral rules: coverage against kept-set accuracy, kept-set AUROC and system
    accuracy, and the cost against coverage. ``sweep``: one row per rule and cost with columns
    ``rule``, ``cost``, ``coverage``, ``kept accuracy``, ``kept AUROC``, ``system accuracy`` (NaN where
    undefined: no point drawn). ``references``: dashed horizontal lines on the accuracy panels (e.g.
    ``{"classifier alone": 0.93, "clinician alone": 0.95}``)."""
    names = list(order) if order is not None else list(dict.fromkeys(sweep["rule"]))
    styles = _rule_styles(names)
    fig, grid = plt.subplots(2, 2, figsize=(11, 8))
    axes = grid.ravel()
    panels = [
        ("kept accuracy", "accuracy of the kept decisions"),
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
        ax.set(xlabel="coverage (share of decisions kept)", ylabel=label, xlim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[3].set(xlabel="cost of deferring c", ylabel="coverage", ylim=(0, 1.02))
    axes[3].grid(alpha=0.3)
    axes[2].legend(fontsize=9, loc="lower right")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[3].legend(handles, labels, fontsize=9, loc="lower right")
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
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
        legend_below(fig, [plt.Line2D([], [], color="white", lw=1.2)], [f"white outline: {outline_label}"])
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


# in a notebook, every figure is shown with text no smaller than legibility.MIN_TEXT_PT (see there)
install_notebook_hook()
