"""What every real-dataset reader does around its own parsing: check the common options, start the
skip report and ``ds.info``, look up the image files and hand the table to ``finalize_dataset``.

A reader starts with ``opts = check_options(source, locals(), ...)`` (its parameters, before it
binds anything else), opens a :class:`ReaderSession` with :func:`start_session` once its root is
resolved, and ends with ``session.finish(table, paths, boxes)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..dataset import CXRDataset
from .common import COMMON_OPTIONS, ReaderOptions, SkipReport, filter_views, finalize_dataset, reader_options

__all__ = ["ReaderSession", "check_options", "start_session", "keep_found_images"]


def check_options(source: str, args: Mapping[str, Any], **facts: Any) -> ReaderOptions:
    """``reader_options(source, ...)`` with the common keywords taken from ``args``.

    ``args`` is the reader's ``locals()`` at its top (its parameters by name); ``facts`` are the
    source's own keywords of :func:`~cxrlib.data.sources.common.reader_options` (``uncertain_labels``,
    ``has_views``, ``class_source``, ``without_effect``). Raises ``ValueError`` naming a bad option.
    """
    missing = [name for name in COMMON_OPTIONS if name not in args]
    if missing:
        raise TypeError(f"{source}: the reader's arguments lack the common option(s) {missing}")
    return reader_options(source, **{name: args[name] for name in COMMON_OPTIONS}, **facts)


@dataclass
class ReaderSession:
    """One call of a real reader: its checked options, its skip report and the ``ds.info`` it builds."""

    opts: ReaderOptions
    skips: SkipReport
    info: dict

    @property
    def source(self) -> str:
        """The source's registered name (``"chexpert"``...)."""
        return self.opts.source

    @property
    def classes(self) -> list[str]:
        """The chosen classes, resolved to the source's names."""
        return self.opts.classes

    def filter_views(self, table: pd.DataFrame) -> pd.DataFrame:
        """Keep the rows whose ``view`` is among the chosen ``views`` (None keeps all), reported in ``info``."""
        return filter_views(table, self.opts.views, self.source, self.info)

    def image_paths(self, table: pd.DataFrame, base: Path) -> list[Path] | None:
        """``base / image`` for every row, or None when no pixel is read (``load_images=False``)."""
        return [base / p for p in table["image"]] if self.opts.load_images else None

    def finish(
        self, table: pd.DataFrame, paths: Sequence[Path] | None, boxes: pd.DataFrame | None = None
    ) -> CXRDataset:
        """Check the table, decode (once, cached) the images of ``paths`` and return the dataset."""
        o = self.opts
        return finalize_dataset(
            o.source,
            o.classes,
            table,
            boxes,
            paths,
            o.image_size,
            o.load_images,
            self.skips,
            self.info,
            o.cache_dir,
            o.progress,
            workers=o.workers,
        )


def start_session(
    opts: ReaderOptions, root: Path | str, *, truth_readers: list[str] | str, truth_rule: str, **details: Any
) -> ReaderSession:
    """A fresh skip report and the ``ds.info`` every reader starts with.

    ``info`` holds, in this order: ``root``, the reader's own ``details`` (``label_policy``, ``task``...),
    the options as used and those without effect, then ``truth_readers`` and ``truth_rule`` (who drew
    the boxes that count as ground truth, and why).
    """
    info = {
        "root": str(root),
        **details,
        **opts.info(),
        "truth_readers": truth_readers,
        "truth_rule": truth_rule,
    }
    return ReaderSession(opts, SkipReport(opts.source, opts.on_bad), info)


def keep_found_images(table: pd.DataFrame, found: Sequence[Path | None]) -> tuple[pd.DataFrame, list[Path]]:
    """The rows whose image file was found (``found[i]`` is row i's path or None) and their paths."""
    present = np.array([p is not None for p in found], bool)
    return table[present].reset_index(drop=True), [p for p in found if p is not None]
