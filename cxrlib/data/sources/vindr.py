"""VinDr-CXR, Kaggle layout: ``train.csv`` with one row per (image, radiologist, box).

Layout::

    root/train.csv        image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max
    root/train/<image_id>.dicom   (or .dcm, or pre-converted .png / .jpg)

``No finding`` (class 14) rows have empty boxes. Labels per image are the union over readers (any
reader marks the class) or, with ``label_rule="majority"``, at least two of them. Boxes are kept per
reader (``reader`` = ``rad_id``) and converted from corners to ``x, y, w, h``, and only for the
(image, class) pairs the rule labels 1: under ``majority`` a class marked by one reader is 0 and its
lone box is dropped (counted in ``ds.info["boxes_dropped_by_label_rule"]``). VinDr-CXR has no patient
ids, so each image is its own patient and the train/val/test split is a seeded image split.

Ground truth for localisation (``ds.truth_boxes()``, ``info["truth_readers"] = "all"``): every kept
box, i.e. every reader's boxes of the classes the label rule marks positive; a point inside any of
them is a hit (the union of the readers' boxes). The Kaggle layout read here has no separate test
consensus (the PhysioNet release's ``annotations_test.csv`` is not read). VinDr has no uncertain
labels: a ``label_policy`` is checked and recorded as without effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from ..classes import VINDR_CLASSES
from ..dataset import CXRDataset
from ..labels import READER_RULES, labels_from_votes, on_positive_labels
from ..splits import split_by_patient
from .common import SkipReport, drop_duplicates, find_first, line, read_csv_checked
from .session import ReaderSession, check_options, keep_found_images

__all__ = ["VINDR_CLASSES", "open_vindr", "read_vindr_annotations"]

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
    return drop_duplicates(
        rows, _COLUMNS, skips, lambda i: ("duplicate row", f"{path}, line {rows.loc[i, 'source_line']}")
    )


def _find_image(folder: Path, image_id: str) -> Path | None:
    return find_first(folder, [f"{image_id}{suffix}" for suffix in (".dicom", ".dcm", ".png", ".jpg")])


def open_vindr(
    root: Path | str,
    image_size: int = 256,
    classes: Iterable[str] | str = "all",
    label_policy: str | Mapping[str, str] | None = None,
    views: Iterable[str] | None = None,
    seed: int = 0,
    load_images: bool = True,
    on_bad: str = "raise",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    workers: int | None = None,
    label_rule: str = "union",
    image_folder: str = "train",
    fractions: dict[str, float] | None = None,
) -> CXRDataset:
    """Open VinDr-CXR (Kaggle train.csv). ``label_rule``: ``"union"`` or ``"majority"`` (≥ 2 readers).

    ``classes``: a list of VinDr names or ``"all"`` (14); the table keeps those label columns and
    the boxes of those classes. Every view is ``"PA"``.
    """
    opts = check_options("vindr", locals(), uncertain_labels=False)
    classes = opts.classes
    root = Path(root)
    if label_rule not in READER_RULES:
        raise ValueError(f"unknown label_rule {label_rule!r}; use 'union' or 'majority'")
    skips = SkipReport("vindr", on_bad)
    rule_text = {"union": "any reader", "majority": "at least two readers"}[label_rule]
    info: dict = {
        "root": str(root),
        "label_rule": label_rule,
        **opts.info(),
        "truth_readers": "all",
        "truth_rule": f"{label_rule}: every reader's boxes of the classes {rule_text} marked on the image",
    }
    rows = read_vindr_annotations(root / "train.csv", skips)
    readers = rows.groupby("image_id")["rad_id"].nunique()
    info["readers_per_image"] = readers.value_counts().sort_index().to_dict()
    findings = rows[rows["class_name"] != NO_FINDING]
    votes = findings.groupby(["image_id", "class_name"])["rad_id"].nunique().unstack(fill_value=0)
    images = sorted(rows["image_id"].unique())
    votes = votes.reindex(index=images, columns=VINDR_CLASSES, fill_value=0)
    labelled = labels_from_votes(votes, label_rule)  # every class, indexed by image
    labels = labelled[classes].reset_index(drop=True)
    findings = findings[findings["class_name"].isin(classes)]
    kept = on_positive_labels(labelled, findings["image_id"], findings["class_name"])
    info["boxes_dropped_by_label_rule"] = int((~kept).sum())
    findings = findings[kept]
    session = ReaderSession(opts, skips, info)
    both = rows.groupby("image_id")["class_name"].agg(lambda s: NO_FINDING in set(s) and len(set(s)) > 1)
    info["images_with_no_finding_and_finding"] = int(both.sum())
    table = pd.DataFrame({"image": images, "patient_id": images, "study_id": images, "view": "PA", "split": None})
    table["split"] = split_by_patient(table, fractions or {"train": 0.7, "val": 0.15, "test": 0.15}, seed).to_numpy()
    table = pd.concat([table, labels], axis=1)
    table = session.filter_views(table)
    boxes = pd.DataFrame(
        {
            "image": findings["image_id"].to_numpy(),
            "class": findings["class_name"].to_numpy(),
            "x": findings["x_min"].to_numpy(),
            "y": findings["y_min"].to_numpy(),
            "w": (findings["x_max"] - findings["x_min"]).to_numpy(),
            "h": (findings["y_max"] - findings["y_min"]).to_numpy(),
            "reader": findings["rad_id"].to_numpy(),
        }
    )
    paths = None
    if load_images:
        folder = root / image_folder
        found = [_find_image(folder, i) for i in table["image"]]
        missing = [i for i, p in zip(table["image"], found) if p is None]
        for image_id in missing:
            skips.bad("image file not found", f"{folder}/{image_id}.dicom|.dcm|.png|.jpg", FileNotFoundError)
        table, paths = keep_found_images(table, found)
    ds = session.finish(table, paths, boxes)
    big = ds.boxes.merge(ds.table[["image", "original_height", "original_width"]], on="image") if load_images else None
    if big is not None:
        outside = (big["x"] + big["w"] > big["original_width"] + 1) | (big["y"] + big["h"] > big["original_height"] + 1)
        if outside.any():
            skips.bad(
                f"{int(outside.sum())} box(es) extend past their image, e.g. {big[outside].iloc[0].tolist()[:7]}",
                str(root / "train.csv"),
            )
            ds.boxes = ds.boxes[~outside.to_numpy()].reset_index(drop=True)
            ds.info["skipped"] = skips.as_dict()
    return ds
