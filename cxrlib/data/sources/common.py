"""What every real-dataset reader shares: one option schema, checked CSV reading, view filters,
validation splits, bad-row handling and the decode-once image cache.

Every reader takes the common keywords of ``COMMON_OPTIONS`` (plus its own); ``reader_options``
checks them once for all. An option that cannot matter for a source (a label policy where there are
no uncertain labels) is accepted, checked, and named with the reason in
``ds.info["options_without_effect"]``; one that asks for something impossible raises ``ValueError``.

Error messages name the file and the line (``line N`` counts the header as line 1), so a user can
open the file at that line. Where skipping is allowed (``on_bad="skip"``), every skipped row is
counted by reason and reported in ``ds.info["skipped"]``; nothing is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import open_or_build
from ..cache_build import build_image_cache
from ..classes import resolve_classes
from ..dataset import BOX_COLUMNS, CXRDataset, empty_boxes
from ..decode import decode_image
from ..labels import resolve_policy
from ..splits import check_patient_leakage, split_by_patient

__all__ = [
    "COMMON_OPTIONS",
    "ReaderOptions",
    "reader_options",
    "SkipReport",
    "skip_rows",
    "drop_duplicates",
    "read_csv_checked",
    "first_existing",
    "find_first",
    "filter_rows",
    "filter_views",
    "carve_validation",
    "finalize_dataset",
    "NoImages",
    "line",
]

log = logging.getLogger("cxrlib.data")


def line(index: int) -> int:
    """File line of a 0-based data row (the header is line 1)."""
    return int(index) + 2


#: the keywords every registered real reader accepts (each reader adds its own after them)
COMMON_OPTIONS = (
    "image_size",
    "classes",
    "label_policy",
    "views",
    "seed",
    "load_images",
    "on_bad",
    "cache_dir",
    "progress",
    "workers",
)


@dataclass(frozen=True)
class ReaderOptions:
    """The checked common options of one reader call (``classes`` resolved to the source's names)."""

    source: str
    image_size: int
    classes: list[str]
    label_policy: str | Mapping[str, str] | None
    views: list[str] | None
    seed: int
    load_images: bool
    on_bad: str
    cache_dir: str | Path | None
    progress: bool
    workers: int | None = None
    without_effect: dict[str, str] = field(default_factory=dict)

    def info(self) -> dict:
        """What goes into ``ds.info``: the options as used and those without effect (with why)."""
        used = {k: v for k, v in asdict(self).items() if k not in ("source", "without_effect", "cache_dir")}
        used["cache_dir"] = None if self.cache_dir is None else str(self.cache_dir)
        return {"options": used, "options_without_effect": dict(self.without_effect)}


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def reader_options(
    source: str,
    *,
    image_size: int,
    classes: Iterable[str] | str,
    label_policy: str | Mapping[str, str] | None,
    views: Iterable[str] | str | None,
    seed: int,
    load_images: bool,
    on_bad: str,
    cache_dir: str | Path | None,
    progress: bool,
    uncertain_labels: bool,
    workers: int | None = None,
    has_views: bool = True,
    class_source: str | None = None,
    without_effect: Mapping[str, str] | None = None,
) -> ReaderOptions:
    """Check the common options of a reader of ``source`` and resolve its ``classes``.

    ``uncertain_labels``: whether the source has uncertain labels (else a ``label_policy`` is checked
    against the classes and recorded as without effect). ``has_views``: whether the source records a
    view (else ``views`` other than None is impossible and raises). ``class_source``: the key of the
    source's class list in :mod:`cxrlib.data.classes` (default ``source``). ``without_effect``: the
    reader's own ``{option: reason}`` notes. Raises ``ValueError`` naming the option.
    """
    notes = dict(without_effect or {})
    if not _is_int(image_size) or not 16 <= image_size <= 2048:
        raise ValueError(f"{source}: image_size must be an integer in [16, 2048], got {image_size!r}")
    resolved = resolve_classes(classes, class_source or source)
    if uncertain_labels:
        if label_policy is None:
            raise ValueError(
                f"{source} has uncertain labels: label_policy must be a policy, a preset or a mapping, not None"
            )
        resolve_policy(label_policy, resolved)
    elif label_policy is not None:
        resolve_policy(label_policy, resolved)  # a typo or a class that is not there still raises
        notes["label_policy"] = f"{source} has no uncertain labels"
    if views is not None:
        views = [views] if isinstance(views, str) else list(views)
        if not views or any(not isinstance(v, str) for v in views):
            raise ValueError(f"{source}: views must be None or a non-empty list of view names, got {views!r}")
        if not has_views:
            raise ValueError(
                f"{source}: the dataset records no view position, so views={views} cannot be applied; pass views=None"
            )
    if not _is_int(seed):
        raise ValueError(f"{source}: seed must be an integer, got {seed!r}")
    for name, value in (("load_images", load_images), ("progress", progress)):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{source}: {name} must be True or False, got {value!r}")
    if on_bad not in ("raise", "skip"):
        raise ValueError(f"{source}: on_bad must be 'raise' or 'skip', got {on_bad!r}")
    if cache_dir is not None and not isinstance(cache_dir, (str, Path)):
        raise ValueError(f"{source}: cache_dir must be None or a path, got {cache_dir!r}")
    if workers is not None and not (_is_int(workers) and workers >= 1):
        raise ValueError(f"{source}: workers must be None (the machine's cores) or an integer >= 1, got {workers!r}")
    if not load_images:
        notes["image_size"] = "load_images=False: no pixel is read"
        if cache_dir is not None:
            notes["cache_dir"] = "load_images=False: no pixel is read"
        if workers is not None:
            notes["workers"] = "load_images=False: no pixel is read"
    return ReaderOptions(
        source,
        int(image_size),
        resolved,
        label_policy,
        views,
        int(seed),
        bool(load_images),
        on_bad,
        cache_dir,
        bool(progress),
        None if workers is None else int(workers),
        notes,
    )


@dataclass
class SkipReport:
    """Counted, reported skips: ``{reason: count}`` and the first few examples of each."""

    source: str
    on_bad: str = "raise"
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.on_bad not in ("raise", "skip"):
            raise ValueError(f"on_bad must be 'raise' or 'skip', got {self.on_bad!r}")

    def bad(self, reason: str, where: str, exc: type[Exception] = ValueError) -> None:
        """Raise ``exc`` naming ``where`` (file and line), or count the skip."""
        if self.on_bad == "raise":
            raise exc(f"{where}: {reason} (pass on_bad='skip' to skip such rows, counted and reported)")
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 5:
            self.examples[reason].append(where)

    def as_dict(self) -> dict:
        return {"counts": dict(self.counts), "examples": dict(self.examples)}


def skip_rows(
    frame: pd.DataFrame, bad: pd.Series | np.ndarray, skips: SkipReport, describe: Callable[[int], tuple[str, str]]
) -> pd.DataFrame:
    """The rows of ``frame`` not marked ``bad`` (re-indexed from 0); each bad row is raised or counted
    by ``skips``, with ``describe(position) -> (reason, where)``."""
    bad = np.asarray(bad, bool)
    for i in np.flatnonzero(bad):
        skips.bad(*describe(int(i)))
    return frame[~bad].reset_index(drop=True)


def drop_duplicates(
    frame: pd.DataFrame, subset: Sequence[str] | None, skips: SkipReport, describe: Callable[[int], tuple[str, str]]
) -> pd.DataFrame:
    """Rows repeating an earlier row on ``subset`` (all columns if None): each is raised or counted by
    ``skips``, with ``describe(position) -> (reason, where)``; the first occurrence is kept."""
    return skip_rows(frame, frame.duplicated(subset), skips, describe)


def find_first(root: Path, names: Iterable[str]) -> Path | None:
    """The first of ``names`` under ``root`` that exists, else None."""
    for name in names:
        if (root / name).exists():
            return root / name
    return None


def first_existing(root: Path, names: Sequence[str], what: str) -> Path:
    """The first of ``names`` under ``root`` that exists, else ``FileNotFoundError`` listing them."""
    found = find_first(root, names)
    if found is None:
        raise FileNotFoundError(f"{what}: none of {list(names)} found in {root}")
    return found


def read_csv_checked(path: Path, required: Sequence[str], **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` with a clear error for a missing file, an empty file or missing columns."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"metadata file not found: {path}")
    try:
        frame = pd.read_csv(path, **{"dtype": str, "keep_default_na": False, "na_values": [""], **kwargs})
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as err:
        raise ValueError(f"{path}: cannot parse as CSV: {err}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; the header has {list(frame.columns)}")
    if frame.empty:
        raise ValueError(f"{path}: no data rows")
    return frame


def filter_rows(
    table: pd.DataFrame, keep: pd.Series, description: str, by: str, source: str, info: dict
) -> pd.DataFrame:
    """Keep rows where ``keep``; the effect (kept, dropped, dropped by ``by``) goes to ``info["filters"]``."""
    keep = keep.fillna(False).astype(bool).to_numpy()
    dropped = table.loc[~keep, by].fillna("(blank)").value_counts().to_dict()
    report = {
        "filter": description,
        "kept": int(keep.sum()),
        "dropped": int((~keep).sum()),
        f"dropped_by_{by}": {str(k): int(v) for k, v in dropped.items()},
    }
    info.setdefault("filters", []).append(report)
    log.info(
        "%s: filter %s kept %d rows, dropped %d %s", source, description, report["kept"], report["dropped"], dropped
    )
    if not keep.any():
        raise ValueError(
            f"{source}: the filter {description} keeps no image; {by} values present: "
            f"{table[by].fillna('(blank)').value_counts().to_dict()}"
        )
    return table[keep].reset_index(drop=True)


def filter_views(table: pd.DataFrame, views: Iterable[str] | None, source: str, info: dict) -> pd.DataFrame:
    """Keep rows whose ``view`` is in ``views`` (None keeps all), reported in ``info["filters"]``."""
    if views is None:
        return table
    views = [views] if isinstance(views, str) else list(views)
    return filter_rows(table, table["view"].isin(views), f"views in {views}", "view", source, info)


def carve_validation(table: pd.DataFrame, fraction: float, seed: int, source: str = "train") -> pd.Series:
    """Split the rows of ``source`` into ``train`` / ``val`` by patient; other rows keep their split."""
    split = table["split"].copy()
    rows = split == source
    if fraction <= 0 or not rows.any():
        return split
    sub = split_by_patient(table[rows], {"train": 1 - fraction, "val": fraction}, seed)
    split[rows] = sub.to_numpy()
    return split


class NoImages:
    """Stand-in for the pixel array when a dataset is opened with ``load_images=False``."""

    def __init__(self, n: int, source: str):
        self.shape = (n, 0, 0)
        self.source = source

    def __getitem__(self, row):
        raise RuntimeError(
            f"{self.source} was opened with load_images=False: the table and boxes are there, the pixels are not"
        )


def _check_table(table: pd.DataFrame, boxes: pd.DataFrame, classes: list[str], source: str) -> None:
    if table.empty:
        raise ValueError(f"{source}: no images left after reading and filtering")
    dup = table["image"].duplicated()
    if dup.any():
        raise ValueError(f"{source}: duplicate image rows, e.g. {table.loc[dup, 'image'].iloc[:3].tolist()}")
    for split in table["split"].unique():
        if split not in ("train", "val", "test"):
            raise ValueError(f"{source}: unknown split name {split!r}")
    check_patient_leakage(table)
    unknown_box_classes = sorted(set(boxes["class"]) - set(classes)) if not boxes.empty else []
    if unknown_box_classes:
        raise ValueError(f"{source}: boxes for classes {unknown_box_classes} that are not among {classes}")


def _fingerprint(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    except OSError:
        return -1, -1


def finalize_dataset(
    name: str,
    classes: list[str],
    table: pd.DataFrame,
    boxes: pd.DataFrame | None,
    paths: Sequence[Path] | None,
    image_size: int,
    load_images: bool,
    skips: SkipReport,
    info: dict,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    decode: Callable[[Path], np.ndarray] = decode_image,
    workers: int | None = None,
) -> CXRDataset:
    """Check the table, build (once) the uint8 cache of ``paths`` at ``image_size`` and return the dataset.

    Images that fail to decode raise (naming the file and table row) or, with ``on_bad="skip"``, are
    dropped from the table and counted in ``ds.info["skipped"]``. The build runs in ``workers``
    processes (default: the machine's cores), resumes where a stopped build stopped, and waits for
    another process building the same entry (:mod:`cxrlib.data.cache_build`, :mod:`cxrlib.data.cache`).
    """
    boxes = empty_boxes() if boxes is None else boxes[BOX_COLUMNS].reset_index(drop=True)
    table = table.reset_index(drop=True)
    _check_table(table, boxes, classes, name)
    info = {**info, "skipped": skips.as_dict()}
    if not load_images:
        return CXRDataset(name, classes, table, boxes, NoImages(len(table), name), info=info)
    if not 16 <= image_size <= 2048:
        raise ValueError(f"image_size must lie in [16, 2048], got {image_size}")
    paths = [Path(p) for p in paths]
    spec = {
        "source": name,
        "size": image_size,
        "paths": [str(p) for p in paths],
        "on_bad": skips.on_bad,
        "files": [_fingerprint(p) for p in paths],
    }  # a replaced image file makes a new cache entry

    def build(work: Path) -> dict:
        return build_image_cache(
            work,
            paths,
            table["image"].astype(str).tolist(),
            image_size,
            on_bad=skips.on_bad,
            decode=decode,
            workers=workers,
            progress=progress,
            desc=f"{name}: decode once to {image_size}px",
        )

    size_bytes = len(paths) * (image_size * image_size + 16) + 4096
    entry = open_or_build(f"real-{name}", spec, build, cache_dir, resumable=True, size_bytes=size_bytes)
    sizes = entry.array("sizes")
    for _, kind, message in entry.meta["failed"]:
        skips.bad(f"unreadable image ({kind})", message)
    keep = np.ones(len(table), bool)
    keep[[i for i, *_ in entry.meta["failed"]]] = False
    if "original_height" not in table.columns or table["original_height"].isna().any():
        decoded = pd.DataFrame(sizes, columns=["original_height", "original_width"])
        for col in decoded:
            table[col] = table[col].fillna(decoded[col]) if col in table.columns else decoded[col]
    rows = np.flatnonzero(keep)
    table = table.iloc[rows].reset_index(drop=True)
    if table.empty:
        raise ValueError(f"{name}: every image failed to decode; first: {entry.meta['failed'][:1]}")
    boxes = boxes[boxes["image"].isin(set(table["image"]))]
    info["skipped"] = skips.as_dict()
    info["cache"] = str(entry.path)
    info["cache_build"] = entry.meta.get("build", {})
    return CXRDataset(name, classes, table, boxes, entry.array("images"), rows=rows, info=info)
