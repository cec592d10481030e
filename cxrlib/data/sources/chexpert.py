"""CheXpert v1.0 and v1.0-small: ``train.csv`` / ``valid.csv`` and the image tree.

``root`` is the release folder (``CheXpert-v1.0-small/`` or ``CheXpert-v1.0/``, holding the CSVs)
or the folder that contains it. ``Path`` values start with the release folder's name, so images are
found relative to the release folder's parent. Patient and study ids come from the path
(``train/patient00001/study1/view1_frontal.jpg``). Labels are ``1.0 / 0.0 / -1.0 / blank``; the
uncertain-label policy decides -1, and blank is unknown (NaN) unless ``blank_as_negative``.

Splits: ``valid.csv`` (radiologist consensus) is the test split, as the papers report on it; ``val``
is carved out of ``train.csv`` by patient (``val_fraction``). CheXpert has no boxes:
``ds.truth_boxes()`` is empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..classes import CHEXPERT_CLASSES, CHEXPERT_COMPETITION
from ..dataset import CXRDataset
from ..labels import apply_label_policy, validate_raw_labels
from .common import SkipReport, carve_validation, drop_duplicates, filter_rows, line, read_csv_checked
from .session import check_options, start_session

__all__ = ["CHEXPERT_CLASSES", "CHEXPERT_COMPETITION", "open_chexpert", "read_chexpert_csv"]

_META = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA"]
_PATH = re.compile(
    r"(?P<part>train|valid|test)/patient(?P<patient>\d+)/study(?P<study>\d+)/view\d+_(frontal|lateral)\.\w+$"
)


def _resolve_root(root: Path) -> Path:
    """The release folder (the one holding train.csv)."""
    if (root / "train.csv").exists() or (root / "valid.csv").exists():
        return root
    for name in ("CheXpert-v1.0-small", "CheXpert-v1.0"):
        if (root / name / "train.csv").exists() or (root / name / "valid.csv").exists():
            return root / name
    raise FileNotFoundError(f"CheXpert: no train.csv or valid.csv in {root} or its CheXpert-v1.0[-small] folder")


def read_chexpert_csv(path: Path, split: str, skips: SkipReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One CheXpert CSV → (table with ids, view, split; raw labels 1/0/-1/NaN)."""
    raw = read_csv_checked(path, _META + CHEXPERT_CLASSES)
    ids = raw["Path"].str.extract(_PATH)
    bad = ids["patient"].isna()
    for i in np.flatnonzero(bad.to_numpy()):
        skips.bad(
            f"path {raw.loc[i, 'Path']!r} does not follow train|valid/patientN/studyN/viewN_frontal|lateral.jpg",
            f"{path}, line {line(i)}",
        )
    keep = ~bad.to_numpy()
    raw, ids = raw[keep], ids[keep]
    frontal = raw["Frontal/Lateral"].str.strip()
    unknown_fl = ~frontal.isin(["Frontal", "Lateral"])
    if unknown_fl.any():
        i = int(np.flatnonzero(unknown_fl.to_numpy())[0])
        raise ValueError(f"{path}, line {line(raw.index[i])}: unknown Frontal/Lateral value {frontal.iloc[i]!r}")
    view = np.where(frontal == "Lateral", "LATERAL", raw["AP/PA"].fillna("").str.strip())
    table = pd.DataFrame(
        {
            "image": raw["Path"].to_numpy(),
            "patient_id": ("patient" + ids["patient"]).to_numpy(),
            "study_id": ("patient" + ids["patient"] + "/study" + ids["study"]).to_numpy(),
            "view": [v or None for v in view],
            "frontal_lateral": frontal.to_numpy(),
            "split": split,
            "sex": raw["Sex"].to_numpy(),
            "age": pd.to_numeric(raw["Age"], errors="coerce").to_numpy(),
            "source_line": [line(i) for i in raw.index],
        }
    )
    return table, raw[CHEXPERT_CLASSES].reset_index(drop=True)


def open_chexpert(
    root: Path | str,
    image_size: int = 256,
    classes: Iterable[str] | str = "all",
    label_policy: str | Mapping[str, str] = "sharma2023",
    views: Iterable[str] | None = None,
    seed: int = 0,
    load_images: bool = True,
    on_bad: str = "raise",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    workers: int | None = None,
    blank_as_negative: bool = False,
    frontal_only: bool = False,
    val_fraction: float = 0.1,
) -> CXRDataset:
    """Open CheXpert. ``classes``: a list, ``"all"`` (14) or ``"chexpert5"`` / ``"competition"`` (the five).

    ``label_policy``: ``ones`` / ``zeros`` / ``ignore``, a per-class mapping, or a preset (``sharma2023``:
    ones for Cardiomegaly and Edema, zeros for the rest; ``libauc``: ones for Edema and Atelectasis).
    ``frontal_only`` and ``views`` are explicit filters; what they drop is in ``ds.info["filters"]``.
    """
    opts = check_options("chexpert", locals(), uncertain_labels=True)
    root = Path(root)
    classes = opts.classes
    base = _resolve_root(Path(root))
    session = start_session(
        opts, base, label_policy=label_policy, truth_readers=[], truth_rule="none: CheXpert has no boxes"
    )
    skips, info = session.skips, session.info
    tables, raws = [], []
    for name, split in (("train.csv", "train"), ("valid.csv", "test")):
        if (base / name).exists():
            t, r = read_chexpert_csv(base / name, split, skips)
            tables.append(t)
            raws.append(r.assign(_file=str(base / name), _line=t["source_line"].to_numpy()))
    table = pd.concat(tables, ignore_index=True)
    raw = pd.concat(raws, ignore_index=True)
    for file in raw["_file"].unique():  # errors name the file and its line
        validate_raw_labels(raw[raw["_file"] == file].set_index("_line"), classes, source=file, row_word="line")
    labels = apply_label_policy(raw[classes], classes, label_policy, blank_as_negative, source="chexpert")
    info["uncertain_counts"] = {c: int((pd.to_numeric(raw[c]) == -1).sum()) for c in classes}
    table = pd.concat([table, labels], axis=1)
    table = drop_duplicates(
        table,
        ["image"],
        skips,
        lambda i: (
            f"duplicate row for image {table.loc[i, 'image']}",
            f"{raw.loc[i, '_file']}, line {raw.loc[i, '_line']}",
        ),
    )
    if frontal_only:
        table = filter_rows(
            table, table["frontal_lateral"] == "Frontal", "frontal only", "frontal_lateral", "chexpert", info
        )
    table = session.filter_views(table)
    table["split"] = carve_validation(table, val_fraction, seed)
    return session.finish(table, session.image_paths(table, base.parent))
