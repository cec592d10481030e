"""Section 3, localisation, where the dataset has truth boxes: PYLON's point localisation accuracy,
Wang et al.'s IoBB and the share of the map's mass inside the boxes, per class, from the model's own
class maps or Grad-CAM on a named layer, with a few overlays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data.dataset import CXRDataset
from ..localization import heatmap_mass_in_mask, iobb_scores, point_localization_accuracy
from .maps_pass import MapPass
from .section import ReportSection

__all__ = ["box_images", "mass_in_boxes", "localization_section"]

TITLE = "Localisation: do the maps point at the finding?"


def box_images(data: CXRDataset, classes: list[str], limit: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Dataset positions of up to ``limit`` images with a truth box of one of ``classes`` (in table order)
    and those boxes, in array pixels."""
    boxes = data.truth_boxes()
    boxes = boxes[boxes["class"].isin(classes)]
    wanted = set(boxes["image"])
    positions = np.flatnonzero(data.table["image"].isin(wanted).to_numpy())[:limit]
    keep = set(data.table["image"].iloc[positions])
    return positions, boxes[boxes["image"].isin(keep)].reset_index(drop=True)


def mass_in_boxes(maps: torch.Tensor, keys: list[str], boxes: pd.DataFrame, classes: list[str], size) -> pd.DataFrame:
    """Per (image, class) with a truth box: the share of the map's positive mass inside the union of
    that class's boxes, and the union's share of the image, which is what a uniform map would put inside
    and the chance that a peak drawn uniformly at random lands in a box (``image, class, mass_inside,
    box_share``)."""
    position = {k: i for i, k in enumerate(keys)}
    rows = []
    for (key, name), group in boxes.groupby(["image", "class"], sort=False):
        i, k = position[key], classes.index(name)
        mask = torch.zeros(size, dtype=torch.bool)
        for x, y, w, h in group[["x", "y", "w", "h"]].to_numpy(float):
            # the pixels whose centre lies in the box, as point localisation counts a hit
            top, bottom = max(0, int(np.ceil(y - 0.5))), max(0, int(np.floor(y + h - 0.5)) + 1)
            left, right = max(0, int(np.ceil(x - 0.5))), max(0, int(np.floor(x + w - 0.5)) + 1)
            mask[top:bottom, left:right] = True
        rows.append((key, name, float(heatmap_mass_in_mask(maps[i, k].clamp_min(0), mask)), float(mask.float().mean())))
    return pd.DataFrame(rows, columns=["image", "class", "mass_inside", "box_share"])


def localization_section(data: CXRDataset, classes: list[str], maps: MapPass, boxes: pd.DataFrame) -> ReportSection:
    import matplotlib.pyplot as plt

    section = ReportSection("localization", TITLE)
    keys = data.table["image"].iloc[maps.positions].tolist()
    size = tuple(data.image_size)
    point = point_localization_accuracy(maps.maps, boxes, keys, classes, size)
    iobb = iobb_scores(maps.maps, boxes, keys, classes, size)
    mass = mass_in_boxes(maps.maps, keys, boxes, classes, size)
    table = point[["n", "accuracy"]].rename(columns={"n": "(image, class) pairs", "accuracy": "point localisation"})
    for column, frame, value in (
        ("mean IoBB", iobb, "iobb"),
        ("map mass inside the boxes", mass, "mass_inside"),
        ("box share of the image (chance)", mass, "box_share"),
    ):
        per_class = frame.groupby("class")[value].mean()
        table[column] = per_class.reindex(table.index)
        for row, summary in (("weighted", frame[value].mean()), ("macro", per_class.mean())):
            if row in table.index:
                table.loc[row, column] = summary
    section.tables["Per class, on the images with a truth box"] = table
    section.notes.append(
        f"Maps: {maps.how}; {len(keys):,} test images with a truth box. Point localisation: the map's peak "
        "inside a box of that class (Preechakul et al.); IoBB: Wang et al.'s, the map thresholded at half its "
        "range; mass inside: the share of the map's positive mass that falls in the boxes; box share: the boxes' "
        "share of the image, what a uniform map puts inside them and the chance that a random peak lands in one."
    )
    weighted = table.loc["weighted"] if "weighted" in table.index else None
    if weighted is not None:
        per_class = table.drop(index=[r for r in ("weighted", "macro") if r in table.index])
        worst = per_class["point localisation"].idxmin()
        section.findings.append(
            f"The map's peak lies inside a truth box for {weighted['point localisation']:.1%} of the "
            f"{int(weighted['(image, class) pairs']):,} (image, class) pairs, against "
            f"{weighted['box share of the image (chance)']:.1%} for a peak drawn at random; worst class {worst} "
            f"({per_class.loc[worst, 'point localisation']:.1%})."
        )
    # a few overlays
    shown = boxes.drop_duplicates("class").head(4)  # the first boxed image of each class, up to four
    columns = min(2, max(1, len(shown)))
    rows = -(-max(1, len(shown)) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(shown) :]:
        ax.axis("off")
    for ax, (_, box) in zip(axes.flat, shown.iterrows()):
        i, k = keys.index(box["image"]), classes.index(box["class"])
        image = data[int(maps.positions[i])]["image"][0].numpy()
        heat = torch.nn.functional.interpolate(maps.maps[i, k][None, None], size=size, mode="bilinear")[0, 0]
        ax.imshow(image, cmap="gray")
        ax.imshow(heat.numpy(), cmap="jet", alpha=0.35)
        for _, b in boxes[(boxes["image"] == box["image"]) & (boxes["class"] == box["class"])].iterrows():
            ax.add_patch(plt.Rectangle((b["x"], b["y"]), b["w"], b["h"], fill=False, color="lime", lw=1.5))
        ax.set_title(f"{box['class']}\n{box['image']}", fontsize=10)
        ax.axis("off")
    fig.suptitle("Class map over the image, truth box in green")
    fig.tight_layout()
    section.figures["Examples"] = fig
    section.data = {"how": maps.how, "table": table.to_dict(orient="index")}
    return section
