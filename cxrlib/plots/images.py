"""Figures of images: galleries with masks and boxes, label counts per split, saliency overlays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.ticker import MaxNLocator

from ..data.dataset import CXRDataset
from ..maps import display_maps, flat_maps
from .colors import finding_color, legend_below, outline_handle

__all__ = ["image_gallery", "label_distribution", "saliency_overlays"]


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
    fig, axes = plt.subplots(1, len(splits), figsize=(3.4 * len(splits) + 0.6, 4.2), squeeze=False)
    for ax, split in zip(axes.flat, splits):
        sub = ds.table[ds.table["split"] == split][ds.classes]
        pos, neg, unk = (sub == 1).sum(), (sub == 0).sum(), sub.isna().sum()
        x = np.arange(len(ds.classes))
        ax.bar(x, pos, color="black", label="positive")
        ax.bar(x, unk, bottom=pos, color="tab:gray", label="unknown / uncertain")
        ax.bar(x, neg, bottom=pos + unk, color="tab:blue", alpha=0.35, label="negative")
        ax.set_xticks(x, ds.classes, rotation=60, ha="right", fontsize=9)
        ax.set_title(f"{split} (n={len(sub)})")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Labels per class and split (after the label policy; each split on its own scale)", fontsize=11)
    axes.flat[0].set_ylabel("images")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=3, fontsize=9, frameon=False, bbox_to_anchor=(0.5, 0.93))
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    return fig


def saliency_overlays(
    images: torch.Tensor,
    maps: Mapping[str, np.ndarray | torch.Tensor],
    classes: Sequence[str],
    class_index: Sequence[int],
    boxes: Sequence[pd.DataFrame] | None = None,
    panel: float | None = None,
    alpha: float = 0.45,
    value_label: str = "Grad-CAM (min-max normalised)",
    row_labels: Sequence[str] | None = None,
    contours: Mapping[str, Sequence[np.ndarray | torch.Tensor]] | None = None,
) -> plt.Figure:
    """Grid: one row per image, first column the image, then one overlay per model (``maps`` name →
    ``(N, K, h, w)``) for the class ``class_index[i]`` of image ``i``, with that class's boxes.
    ``panel``: inches per panel (None: at most 2.6, less for many models); ``value_label`` names the
    colour bar; ``row_labels`` replace the class names beside the rows.
    ``contours``: name → one ``(H, W)`` binary mask per image (the heart, a marker, the finding),
    outlined on every panel and named in a legend, so that "on the heart" can be judged by eye."""
    names = list(maps)
    n = len(images)
    if panel is None:  # 2.6 in a panel, narrower where many models would make the figure wider than ~10.5 in
        panel = min(2.6, 9.7 / (1 + len(names)))
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
        handles = [outline_handle(_CONTOUR_COLORS[c % len(_CONTOUR_COLORS)]) for c in range(len(contours))]
        legend_below(fig, handles, [f"outline: {label}" for label in contours])
    return fig


#: outline colours of saliency_overlays' contours: visible on grey images and on the jet colour map
_CONTOUR_COLORS = ("white", "magenta", "lime")
