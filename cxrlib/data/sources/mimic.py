"""MIMIC-CXR-JPG v2.0.0: chexpert (per study) ⋈ metadata (per image) ⋈ split (per image).

Layout (``root`` = ``mimic-cxr-jpg/2.0.0``; each CSV may be gzipped)::

    mimic-cxr-2.0.0-chexpert.csv   subject_id,study_id,<14 labels in alphabetical order>
    mimic-cxr-2.0.0-metadata.csv   dicom_id,subject_id,study_id,...,ViewPosition,Rows,Columns,...
    mimic-cxr-2.0.0-split.csv      dicom_id,study_id,subject_id,split   (train / validate / test)
    files/p{subject_id[:2]}/p{subject_id}/s{study_id}/{dicom_id}.jpg

Labels are study-level: every image of a study gets its study's labels. An image whose study has no
label row keeps NaN labels (counted in ``ds.info["images_without_label_row"]``). ``ViewPosition``
may be blank (view None). The official patient-disjoint split is used (``validate`` → ``val``), so
``seed`` has no effect (recorded in ``ds.info``). MIMIC-CXR-JPG has no boxes: ``ds.truth_boxes()``
is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..classes import MIMIC_CLASSES
from ..dataset import CXRDataset
from ..labels import apply_label_policy, validate_raw_labels
from .common import filter_rows, first_existing, line, read_csv_checked, skip_rows
from .session import check_options, start_session

__all__ = ["MIMIC_CLASSES", "open_mimic", "mimic_image_path"]

_SPLITS = {"train": "train", "validate": "val", "test": "test"}


def mimic_image_path(subject_id: str, study_id: str, dicom_id: str) -> str:
    """``files/p{first two digits}/p{subject}/s{study}/{dicom_id}.jpg``."""
    return f"files/p{subject_id[:2]}/p{subject_id}/s{study_id}/{dicom_id}.jpg"


def _csv(root: Path, stem: str) -> Path:
    return first_existing(root, [f"{stem}.csv", f"{stem}.csv.gz"], f"MIMIC-CXR-JPG {stem}")


def open_mimic(
    root: Path | str,
    image_size: int = 256,
    classes: Iterable[str] | str = "all",
    label_policy: str | Mapping[str, str] = "ignore",
    views: Iterable[str] | None = None,
    seed: int = 0,
    load_images: bool = True,
    on_bad: str = "raise",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    workers: int | None = None,
    blank_as_negative: bool = False,
    drop_only_uncertain: bool = False,
) -> CXRDataset:
    """Open MIMIC-CXR-JPG. ``views=["PA", "AP"]`` is the usual frontal filter (explicit, reported).

    ``classes``: a list, ``"all"`` (14) or ``"chexpert5"`` / ``"competition"`` (the five).

    ``drop_only_uncertain`` drops images whose chosen labels are all uncertain or blank (the deferral
    study's rule), reported in ``ds.info["filters"]``.
    """
    opts = check_options(
        "mimic",
        locals(),
        uncertain_labels=True,
        without_effect={"seed": "MIMIC-CXR-JPG's official split is used; nothing is drawn"},
    )
    classes = opts.classes
    root = Path(root)
    session = start_session(
        opts, root, label_policy=label_policy, truth_readers=[], truth_rule="none: MIMIC-CXR-JPG has no boxes"
    )
    info = session.info
    ids = ["subject_id", "study_id"]
    labels_path, meta_path, split_path = (_csv(root, f"mimic-cxr-2.0.0-{s}") for s in ("chexpert", "metadata", "split"))
    labels = read_csv_checked(labels_path, ids + MIMIC_CLASSES)
    meta = read_csv_checked(meta_path, ["dicom_id", *ids, "ViewPosition"])
    split = read_csv_checked(split_path, ["dicom_id", "study_id", "subject_id", "split"])
    validate_raw_labels(labels.set_index(labels.index.map(line)), classes, source=str(labels_path), row_word="line")
    for frame, path, key in (
        (labels, labels_path, ids),
        (meta, meta_path, ["dicom_id"]),
        (split, split_path, ["dicom_id"]),
    ):
        dup = frame.duplicated(key)
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise ValueError(f"{path}, line {line(i)}: duplicate {key} {frame.loc[i, key].tolist()}")
    bad_split = ~split["split"].isin(_SPLITS)
    if bad_split.any():
        i = int(np.flatnonzero(bad_split.to_numpy())[0])
        raise ValueError(
            f"{split_path}, line {line(i)}: unknown split {split.loc[i, 'split']!r}; expected {list(_SPLITS)}"
        )
    table = meta.merge(split[["dicom_id", "split"]], on="dicom_id", how="left", validate="one_to_one")
    table = skip_rows(
        table,
        table["split"].isna(),
        session.skips,
        lambda i: (f"image {table.loc[i, 'dicom_id']} has no row in {split_path.name}", f"{meta_path}, line {line(i)}"),
    )
    table = table.merge(labels, on=ids, how="left", validate="many_to_one", indicator=True)
    info["images_without_label_row"] = int((table.pop("_merge") == "left_only").sum())
    raw = table[classes].reset_index(drop=True)
    info["uncertain_counts"] = {c: int((pd.to_numeric(raw[c]) == -1).sum()) for c in classes}
    out = pd.DataFrame(
        {
            "image": [
                mimic_image_path(s, t, d) for s, t, d in zip(table["subject_id"], table["study_id"], table["dicom_id"])
            ],
            "patient_id": table["subject_id"].to_numpy(),
            "study_id": table["study_id"].to_numpy(),
            "view": table["ViewPosition"].where(table["ViewPosition"].notna(), None).to_numpy(),
            "split": table["split"].map(_SPLITS).to_numpy(),
        }
    )
    if {"Rows", "Columns"} <= set(table.columns):
        out["original_height"] = pd.to_numeric(table["Rows"], errors="coerce").to_numpy()
        out["original_width"] = pd.to_numeric(table["Columns"], errors="coerce").to_numpy()
    out = pd.concat([out, apply_label_policy(raw, classes, label_policy, blank_as_negative, source="mimic")], axis=1)
    out["_raw_known"] = (raw.apply(pd.to_numeric).isin([0.0, 1.0])).any(axis=1).to_numpy()
    out = session.filter_views(out)
    if drop_only_uncertain:
        out = filter_rows(out, out["_raw_known"], "drop images with only uncertain/blank labels", "view", "mimic", info)
    out = out.drop(columns="_raw_known")
    return session.finish(out, session.image_paths(out, root))
