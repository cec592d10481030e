"""MURA v1.1: header-less ``*_image_paths.csv`` and ``*_labeled_studies.csv``.

Layout (``root`` is the folder that contains ``MURA-v1.1/``, or ``MURA-v1.1/`` itself)::

    MURA-v1.1/train_image_paths.csv      MURA-v1.1/train/XR_SHOULDER/patient00001/study1_positive/image1.png
    MURA-v1.1/train_labeled_studies.csv  MURA-v1.1/train/XR_SHOULDER/patient00001/study1_positive/,1
    (and valid_*)

Two tasks: ``"body-part"`` (7 one-hot classes from ``XR_<PART>``, the Laplace study's task) and
``"abnormality"`` (one class, the study's label inherited by each image). ``valid`` is the test split;
``val`` is carved from train by patient. MURA has no boxes (``ds.truth_boxes()`` is empty), no view
position (``views`` must be None) and no uncertain labels (a ``label_policy`` is checked and
recorded as without effect).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from ..classes import MURA_BODY_PARTS
from ..dataset import CXRDataset
from .common import carve_validation, drop_duplicates
from .session import check_options, start_session

__all__ = ["MURA_BODY_PARTS", "open_mura"]

_PATH = re.compile(
    r"MURA-v1\.1/(?P<part>train|valid)/(?P<body>XR_[A-Z]+)/patient(?P<patient>\d+)/"
    r"(?P<study>study\d+)_(?P<tag>positive|negative)/image\d+\.png$"
)


def _read_headerless(path: Path, ncols: int) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"metadata file not found: {path}")
    frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    if frame.shape[1] != ncols:
        raise ValueError(f"{path}: expected {ncols} column(s) without a header, found {frame.shape[1]}")
    if frame.empty:
        raise ValueError(f"{path}: no data rows")
    return frame


def open_mura(
    root: Path | str,
    image_size: int = 224,
    classes: Iterable[str] | str = "all",
    label_policy: str | Mapping[str, str] | None = None,
    views: Iterable[str] | None = None,
    seed: int = 0,
    load_images: bool = True,
    on_bad: str = "raise",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    workers: int | None = None,
    task: str = "body-part",
    val_fraction: float = 0.1,
) -> CXRDataset:
    """Open MURA v1.1. ``classes``: ``"all"`` or a list of the task's classes (body parts
    ``XR_ELBOW``... for ``"body-part"``, ``["Abnormal"]`` for ``"abnormality"``)."""
    if task not in ("body-part", "abnormality"):
        raise ValueError(f"unknown MURA task {task!r}; use 'body-part' or 'abnormality'")
    opts = check_options(
        "mura",
        locals(),
        uncertain_labels=False,
        has_views=False,
        class_source="mura" if task == "body-part" else "mura-abnormality",
    )
    root = Path(root)
    base = root.parent if root.name == "MURA-v1.1" else root
    if not (base / "MURA-v1.1").is_dir():
        raise FileNotFoundError(f"MURA: no MURA-v1.1 folder in {root}")
    session = start_session(opts, base, task=task, truth_readers=[], truth_rule="none: MURA has no boxes")
    skips = session.skips
    rows = []
    for part, split in (("train", "train"), ("valid", "test")):
        paths_file = base / "MURA-v1.1" / f"{part}_image_paths.csv"
        studies_file = base / "MURA-v1.1" / f"{part}_labeled_studies.csv"
        if not paths_file.exists() and part == "valid":
            continue
        studies = _read_headerless(studies_file, 2)
        labels: dict[str, int] = {}
        for i, (study, value) in enumerate(studies.itertuples(index=False)):
            if value not in ("0", "1"):
                raise ValueError(f"{studies_file}, line {i + 1}: unknown label value {value!r} (expected 0 or 1)")
            if study in labels:
                raise ValueError(f"{studies_file}, line {i + 1}: duplicate study {study}")
            labels[study] = int(value)
        for i, (path,) in enumerate(_read_headerless(paths_file, 1).itertuples(index=False)):
            where = f"{paths_file}, line {i + 1}"
            m = _PATH.search(path)
            if not m:
                skips.bad(
                    f"path {path!r} does not follow MURA-v1.1/train|valid/XR_PART/patientN/studyN_tag/imageN.png", where
                )
                continue
            if m["body"] not in MURA_BODY_PARTS:
                skips.bad(f"unknown body part {m['body']!r}", where)
                continue
            study_dir = path.rsplit("/", 1)[0] + "/"
            if study_dir not in labels:
                skips.bad(f"study {study_dir} has no row in {studies_file.name}", where)
                continue
            if labels[study_dir] != int(m["tag"] == "positive"):
                skips.bad(f"label {labels[study_dir]} disagrees with the folder name ({m['tag']})", where)
                continue
            rows.append(
                {
                    "image": path,
                    "patient_id": f"patient{m['patient']}",
                    "study_id": f"patient{m['patient']}/{m['body']}/{m['study']}",
                    "view": None,
                    "split": split,
                    "body_part": m["body"],
                    "abnormal": float(labels[study_dir]),
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        raise ValueError(f"MURA: no usable image rows under {base / 'MURA-v1.1'}")
    table = drop_duplicates(
        table, ["image"], skips, lambda i: (f"duplicate image path {table.loc[i, 'image']}", str(base / "MURA-v1.1"))
    )
    classes = opts.classes
    if task == "body-part":
        for c in classes:
            table[c] = (table["body_part"] == c).astype(float)
    else:
        table["Abnormal"] = table["abnormal"]
    table["split"] = carve_validation(table, val_fraction, seed)
    return session.finish(table, session.image_paths(table, base))
