"""NIH ChestX-ray14: ``Data_Entry_2017(_v2020).csv``, ``BBox_List_2017.csv``, official split lists.

Layout (the NIH Box download, or Kaggle's mirror)::

    root/Data_Entry_2017_v2020.csv[.gz]  (or Data_Entry_2017.csv)
    root/BBox_List_2017.csv[.gz]
    root/train_val_list.txt  root/test_list.txt
    root/images/<Image Index>            or  root/images_0NN/images/<Image Index>

Handled quirks: the unquoted ``OriginalImage[Width,Height]`` header, NIH's trailing comma (a 12th
empty column) or its absence, ``Patient Sex`` or ``Patient Gender``, zero-padded ids and ``058Y``
ages in older copies, ``|``-separated labels in any order, the box list's 9-field header over
6-field rows, and ``Infiltrate`` (boxes) vs ``Infiltration`` (labels). Boxes stay in the 1024-px
coordinates of the PNGs (``original_height/width`` = 1024) and are scaled by
``ds.boxes_in_array_pixels()`` to the cached size.

Ground truth for localisation (``ds.truth_boxes()``): every box of the chosen classes (reader
``"nih"``; the box list is the radiologists' single reading). NIH has no uncertain labels, so a
``label_policy`` is checked and recorded as without effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..classes import NIH_CLASSES
from ..dataset import CXRDataset
from ..splits import split_by_patient
from .common import SkipReport, carve_validation, drop_duplicates, find_first, first_existing, line
from .session import check_options, keep_found_images, start_session

__all__ = ["NIH_CLASSES", "NIH_LABELS", "open_nih", "read_nih_table", "read_nih_boxes"]

NIH_LABELS = set(NIH_CLASSES) | {"No Finding"}
_BOX_NAMES = {"Infiltrate": "Infiltration"}
_PNG_SIZE = 1024
_COLUMNS = [
    "Image Index",
    "Finding Labels",
    "Follow-up #",
    "Patient ID",
    "Patient Age",
    "Patient Sex",
    "View Position",
    "OriginalImage[Width",
    "Height]",
    "OriginalImagePixelSpacing[x",
    "y]",
]


def _int(value: str, what: str, where: str) -> int:
    text = str(value).strip().rstrip("Yy")
    if not text.lstrip("-").isdigit():
        raise ValueError(f"{where}: {what} {value!r} is not an integer")
    return int(text)


def read_nih_table(path: Path, skips: SkipReport | None = None, max_age: int = 120) -> pd.DataFrame:
    """Parse a Data_Entry file into the common table (``split`` left empty) plus 14 label columns."""
    skips = skips if skips is not None else SkipReport("nih")
    if not Path(path).is_file():
        raise FileNotFoundError(f"metadata file not found: {path}")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    raw = raw.rename(columns={"Patient Gender": "Patient Sex"})
    raw = raw.loc[:, [c for c in raw.columns if not c.startswith("Unnamed")]]
    missing = [c for c in _COLUMNS[:7] if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; the header has {list(raw.columns)}")
    if raw.empty:
        raise ValueError(f"{path}: no data rows")
    rows, labels = [], []
    for i, rec in enumerate(raw.itertuples(index=False)):
        where = f"{path}, line {line(i)}"
        rec = dict(zip(raw.columns, rec))
        try:
            patient = _int(rec["Patient ID"], "Patient ID", where)
            follow_up = _int(rec["Follow-up #"], "Follow-up #", where)
            age = _int(rec["Patient Age"], "Patient Age", where)
        except ValueError as err:
            skips.bad(str(err).split(": ", 1)[1], where)
            continue
        if not 0 <= age <= max_age:
            skips.bad(f"impossible age {age}", where)
            continue
        found = [t.strip() for t in rec["Finding Labels"].split("|") if t.strip()]
        unknown = [t for t in found if t not in NIH_LABELS]
        if unknown or not found:
            skips.bad(f"unknown label value(s) {unknown or repr(rec['Finding Labels'])} in 'Finding Labels'", where)
            continue
        if "No Finding" in found and len(found) > 1:
            skips.bad(f"'No Finding' together with {found}", where)
            continue
        name = rec["Image Index"].strip()
        rows.append(
            {
                "image": name,
                "patient_id": f"{patient:08d}",
                "study_id": f"{patient:08d}_{follow_up:03d}",
                "view": rec["View Position"].strip() or None,
                "split": None,
                "age": age,
                "sex": rec["Patient Sex"].strip(),
                "follow_up": follow_up,
                "original_height": _PNG_SIZE,
                "original_width": _PNG_SIZE,
            }
        )
        labels.append([1.0 if c in found else 0.0 for c in NIH_CLASSES])
    table = pd.DataFrame(rows)
    return pd.concat([table, pd.DataFrame(labels, columns=NIH_CLASSES)], axis=1)


def read_nih_boxes(path: Path, skips: SkipReport | None = None, image_size: int = _PNG_SIZE) -> pd.DataFrame:
    """Parse BBox_List_2017.csv (9-field header over 6-field rows) into ``image, class, x, y, w, h, reader``."""
    skips = skips if skips is not None else SkipReport("nih")
    if not Path(path).is_file():
        raise FileNotFoundError(f"box file not found: {path}")
    header = pd.read_csv(path, nrows=0).columns
    if list(header[:2]) != ["Image Index", "Finding Label"] or not str(header[2]).startswith("Bbox"):
        raise ValueError(
            f"{path}: unexpected header {list(header)}; expected 'Image Index,Finding Label,Bbox [x,y,w,h]'"
        )
    raw = pd.read_csv(
        path,
        skiprows=1,
        header=None,
        usecols=range(6),
        dtype=str,
        keep_default_na=False,
        names=["image", "label", "x", "y", "w", "h"],
    )
    out = []
    for i, rec in enumerate(raw.itertuples(index=False)):
        where = f"{path}, line {line(i)}"
        label = _BOX_NAMES.get(rec.label, rec.label)
        if label not in NIH_CLASSES:
            skips.bad(f"unknown box label {rec.label!r}", where)
            continue
        try:
            x, y, w, h = (float(v) for v in (rec.x, rec.y, rec.w, rec.h))
        except ValueError:
            skips.bad(f"non-numeric box {[rec.x, rec.y, rec.w, rec.h]}", where)
            continue
        if not all(np.isfinite([x, y, w, h])):
            skips.bad("box with NaN coordinates", where)
        elif w <= 0 or h <= 0:
            skips.bad(f"zero-area box (w={w}, h={h})", where)
        elif x < 0 or y < 0 or x + w > image_size or y + h > image_size:
            skips.bad(f"box ({x:.1f}, {y:.1f}, {w:.1f}, {h:.1f}) outside the {image_size}-px image", where)
        else:
            out.append((rec.image.strip(), label, x, y, w, h, "nih"))
    boxes = pd.DataFrame(out, columns=["image", "class", "x", "y", "w", "h", "reader"])
    return drop_duplicates(
        boxes, None, skips, lambda i: ("duplicate box row", f"{path}, box {boxes.iloc[i].tolist()[:6]}")
    )


def _image_paths(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in [root / "images", *sorted(root.glob("images_*/images"))]:
        if folder.is_dir():
            for p in folder.iterdir():
                found.setdefault(p.name, p)
    return found


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        raise FileNotFoundError(f"official split list not found: {path} (or pass split='patient')")
    return {ln.strip() for ln in path.read_text().splitlines() if ln.strip()}


def open_nih(
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
    split: str = "official",
    val_fraction: float = 0.1,
    require_all_images: bool = False,
    max_age: int = 120,
) -> CXRDataset:
    """Open NIH ChestX-ray14 under ``root``.

    ``classes``: a list of NIH names, ``"all"`` (14), ``"chexpert5"`` (with ``Effusion``) or
    ``"nih-boxes"`` (the eight boxed classes); the table keeps those label columns and the boxes of
    those classes. ``label_policy`` has no effect (no uncertain labels; recorded in ``ds.info``).

    ``split="official"`` uses ``test_list.txt`` as test and carves ``val_fraction`` of the
    ``train_val_list.txt`` patients into val; ``"patient"`` makes a 70/15/15 patient split instead.
    Only images present on disk are kept unless ``require_all_images`` (then a missing image is an
    error); the number left out is reported in ``ds.info["images_missing"]``. With
    ``load_images=False`` no pixel is read (the table, labels, boxes and splits are complete).
    """
    opts = check_options("nih", locals(), uncertain_labels=False)
    root = Path(root)
    if split not in ("official", "patient"):
        raise ValueError(f"unknown split {split!r}; use 'official' or 'patient'")
    session = start_session(
        opts,
        root,
        truth_readers=["nih"],
        truth_rule="every box of BBox_List_2017.csv for the chosen classes (reader 'nih')",
    )
    skips, info = session.skips, session.info
    entry = first_existing(
        root,
        ["Data_Entry_2017_v2020.csv", "Data_Entry_2017_v2020.csv.gz", "Data_Entry_2017.csv", "Data_Entry_2017.csv.gz"],
        "NIH Data_Entry",
    )
    table = read_nih_table(entry, skips, max_age)
    info["metadata"] = str(entry)
    table = drop_duplicates(
        table, ["image"], skips, lambda i: (f"duplicate row for image {table.loc[i, 'image']}", f"{entry}")
    )
    if split == "official":
        test, train_val = _read_list(root / "test_list.txt"), _read_list(root / "train_val_list.txt")
        both = test & train_val
        if both:
            raise ValueError(f"{root}: {len(both)} image(s) in both official lists, e.g. {sorted(both)[:3]}")
        table["split"] = np.where(
            table["image"].isin(test), "test", np.where(table["image"].isin(train_val), "train", None)
        )
        unlisted = table["split"].isna()
        if unlisted.any():
            skips.bad(
                f"image in neither split list ({int(unlisted.sum())} such)",
                f"{entry}: e.g. {table.loc[unlisted, 'image'].iloc[0]}",
            )
            table = table[~unlisted].reset_index(drop=True)
        table["split"] = carve_validation(table, val_fraction, seed)
    elif split == "patient":
        table["split"] = split_by_patient(table, seed=seed).to_numpy()
    else:
        raise ValueError(f"unknown split {split!r}; use 'official' or 'patient'")
    table = session.filter_views(table)
    box_file = find_first(root, ["BBox_List_2017.csv", "BBox_List_2017.csv.gz"])
    boxes = read_nih_boxes(box_file, skips) if box_file is not None else None
    if boxes is not None:
        boxes = boxes[boxes["class"].isin(opts.classes)]
        orphans = ~boxes["image"].isin(set(table["image"]))
        info["boxes_without_image_row"] = int(orphans.sum())
        boxes = boxes[~orphans]
    paths = None
    if load_images:
        on_disk = _image_paths(root)
        present = table["image"].isin(on_disk.keys())
        info["images_missing"] = int((~present).sum())
        if require_all_images and not present.all():
            raise FileNotFoundError(
                f"{int((~present).sum())} image(s) listed in {entry} are not under {root}/images "
                f"or {root}/images_*/images, e.g. {table.loc[~present, 'image'].iloc[0]}"
            )
        if not present.any():
            raise FileNotFoundError(f"no image of {entry} found under {root}/images or {root}/images_*/images")
        table, paths = keep_found_images(table, [on_disk.get(name) for name in table["image"]])
    table = table.drop(columns=[c for c in NIH_CLASSES if c not in opts.classes])
    return session.finish(table, paths, boxes)
