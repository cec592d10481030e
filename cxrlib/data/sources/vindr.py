"""VinDr-CXR, Kaggle layout: ``train.csv`` with one row per (image, radiologist, box).

Layout::

    root/train.csv        image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max
    root/train/<image_id>.dicom   (or .dcm, or pre-converted .png / .jpg)

``No finding`` (class 14) rows have empty boxes. Labels per image are the union over readers (any
reader marks the class) or, with ``label_rule="majority"``, at least two of them. Boxes are kept per
reader (``reader`` = ``rad_id``) and converted from corners to ``x, y, w, h``; localisation metrics
that take every reader's boxes of a class measure against their union. VinDr-CXR has no patient
ids, so each image is its own patient and the train/val/test split is a seeded image split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..dataset import CXRDataset
from .common import SkipReport, drop_duplicates, finalize_dataset, line, read_csv_checked
from ..splits import split_by_patient

__all__ = ["VINDR_CLASSES", "open_vindr", "read_vindr_annotations"]

VINDR_CLASSES = ["Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Consolidation", "ILD",
                 "Infiltration", "Lung Opacity", "Nodule/Mass", "Other lesion", "Pleural effusion",
                 "Pleural thickening", "Pneumothorax", "Pulmonary fibrosis"]
NO_FINDING = "No finding"
_COLUMNS = ["image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max"]


def read_vindr_annotations(path: Path, skips: SkipReport) -> pd.DataFrame:
    """Validated rows of train.csv with numeric boxes (NaN for No finding)."""
    raw = read_csv_checked(path, _COLUMNS)
    names = {**{i: c for i, c in enumerate(VINDR_CLASSES)}, 14: NO_FINDING}
    keep = []
    for i, rec in enumerate(raw.itertuples(index=False)):
        where = f"{path}, line {line(i)}"
        try:
            class_id = int(float(rec.class_id))
        except ValueError:
            skips.bad(f"class_id {rec.class_id!r} is not an integer", where)
            continue
        if names.get(class_id) != rec.class_name:
            skips.bad(f"unknown label: class_id {class_id} with class_name {rec.class_name!r}", where)
            continue
        if not isinstance(rec.rad_id, str) or not rec.rad_id.startswith("R"):
            skips.bad(f"rad_id {rec.rad_id!r} is not R1..R17", where)
            continue
        coords = [rec.x_min, rec.y_min, rec.x_max, rec.y_max]
        if class_id == 14:
            if any(isinstance(c, str) and c.strip() for c in coords):
                skips.bad("'No finding' row with a box", where)
                continue
        else:
            try:
                x0, y0, x1, y1 = (float(c) for c in coords)
            except (TypeError, ValueError):
                skips.bad(f"missing or non-numeric box {coords}", where)
                continue
            if not (x1 > x0 and y1 > y0):
                skips.bad(f"zero-area or inverted box {coords}", where)
                continue
            if x0 < 0 or y0 < 0:
                skips.bad(f"box {coords} outside the image", where)
                continue
        keep.append(i)
    rows = raw.iloc[keep].reset_index(drop=True)
    for c in ("x_min", "y_min", "x_max", "y_max"):
        rows[c] = pd.to_numeric(rows[c])
    rows["source_line"] = [line(i) for i in keep]
    return drop_duplicates(rows, _COLUMNS, skips, lambda i: ("duplicate row", f"{path}, line {rows.loc[i, 'source_line']}"))


def _find_image(folder: Path, image_id: str) -> Path | None:
    for suffix in (".dicom", ".dcm", ".png", ".jpg"):
        if (folder / f"{image_id}{suffix}").exists():
            return folder / f"{image_id}{suffix}"
    return None


def open_vindr(
    root: Path,
    image_size: int = 256,
    label_rule: str = "union",
    image_folder: str = "train",
    fractions: dict[str, float] | None = None,
    seed: int = 0,
    load_images: bool = True,
    on_bad: str = "raise",
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> CXRDataset:
    """Open VinDr-CXR (Kaggle train.csv). ``label_rule``: ``"union"`` or ``"majority"`` (≥ 2 readers)."""
    root = Path(root)
    if label_rule not in ("union", "majority"):
        raise ValueError(f"unknown label_rule {label_rule!r}; use 'union' or 'majority'")
    skips = SkipReport("vindr", on_bad)
    info: dict = {"root": str(root), "label_rule": label_rule}
    rows = read_vindr_annotations(root / "train.csv", skips)
    readers = rows.groupby("image_id")["rad_id"].nunique()
    info["readers_per_image"] = readers.value_counts().sort_index().to_dict()
    findings = rows[rows["class_name"] != NO_FINDING]
    votes = findings.groupby(["image_id", "class_name"])["rad_id"].nunique().unstack(fill_value=0)
    images = sorted(rows["image_id"].unique())
    votes = votes.reindex(index=images, columns=VINDR_CLASSES, fill_value=0)
    need = 1 if label_rule == "union" else 2
    labels = (votes >= need).astype(float).reset_index(drop=True)
    both = rows.groupby("image_id")["class_name"].agg(lambda s: NO_FINDING in set(s) and len(set(s)) > 1)
    info["images_with_no_finding_and_finding"] = int(both.sum())
    table = pd.DataFrame({"image": images, "patient_id": images, "study_id": images, "view": "PA", "split": None})
    table["split"] = split_by_patient(table, fractions or {"train": 0.7, "val": 0.15, "test": 0.15}, seed).to_numpy()
    table = pd.concat([table, labels], axis=1)
    boxes = pd.DataFrame({"image": findings["image_id"].to_numpy(), "class": findings["class_name"].to_numpy(),
                          "x": findings["x_min"].to_numpy(), "y": findings["y_min"].to_numpy(),
                          "w": (findings["x_max"] - findings["x_min"]).to_numpy(),
                          "h": (findings["y_max"] - findings["y_min"]).to_numpy(),
                          "reader": findings["rad_id"].to_numpy()})
    paths = None
    if load_images:
        folder = root / image_folder
        found = [_find_image(folder, i) for i in table["image"]]
        missing = [i for i, p in zip(table["image"], found) if p is None]
        for image_id in missing:
            skips.bad("image file not found", f"{folder}/{image_id}.dicom|.dcm|.png|.jpg", FileNotFoundError)
        present = np.array([p is not None for p in found])
        table = table[present].reset_index(drop=True)
        paths = [p for p in found if p is not None]
    ds = finalize_dataset("vindr", VINDR_CLASSES, table, boxes, paths, image_size, load_images, skips, info,
                          cache_dir, progress)
    big = ds.boxes.merge(ds.table[["image", "original_height", "original_width"]], on="image") if load_images else None
    if big is not None:
        outside = (big["x"] + big["w"] > big["original_width"] + 1) | (big["y"] + big["h"] > big["original_height"] + 1)
        if outside.any():
            skips.bad(f"{int(outside.sum())} box(es) extend past their image, e.g. {big[outside].iloc[0].tolist()[:7]}",
                      str(root / "train.csv"))
            ds.boxes = ds.boxes[~outside.to_numpy()].reset_index(drop=True)
            ds.info["skipped"] = skips.as_dict()
    return ds
