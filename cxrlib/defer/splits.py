"""The four patient-disjoint splits of a deferral study: the classifier's training set, the error model's
separate training set (images the classifier never saw), validation and test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.dataset import CXRDataset
from ..data.splits import check_patient_leakage, split_by_patient

__all__ = ["DEFER_SPLITS", "DEFER_FRACTIONS", "DeferSplits", "defer_splits"]

#: the splits, in order: the classifier trains on ``train``, the error model on ``error``; both stop
#: early on ``val``; every number of the study is measured on ``test``
DEFER_SPLITS = ("train", "error", "val", "test")
#: the source's 70/15/15 with a separate share for the second model: 50/20/15/15 of the patients
DEFER_FRACTIONS: dict[str, float] = {"train": 0.5, "error": 0.2, "val": 0.15, "test": 0.15}


@dataclass(frozen=True)
class DeferSplits:
    """The four splits as datasets (their ``table["split"]`` says which), and ``dropped``: the images
    left out because none of their labels is known (the source's rule for images with only uncertain
    labels)."""

    train: CXRDataset
    error: CXRDataset
    val: CXRDataset
    test: CXRDataset
    dropped: int = 0

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in DEFER_SPLITS}

    def table(self) -> pd.DataFrame:
        """Every kept image's row (``image``, ``patient_id``, ``split``...), all four splits."""
        return pd.concat([getattr(self, name).table for name in DEFER_SPLITS], ignore_index=True)


def defer_splits(
    ds: CXRDataset,
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    drop_unlabelled: bool = True,
) -> DeferSplits:
    """Split ``ds`` by patient into :data:`DEFER_SPLITS` (``fractions`` of the patients, default
    :data:`DEFER_FRACTIONS`; keys must be exactly those four), ignoring the source's own split.

    With ``drop_unlabelled`` the images whose labels are all unknown (NaN: uncertain under the
    ``"ignore"`` policy, or blank) are left out first. Raises ``ValueError`` for other split names,
    fractions that do not sum to 1, a split that would be empty, or no labelled image at all; the
    result is checked for patient leakage (``PatientLeakageError``).
    """
    fractions = dict(DEFER_FRACTIONS if fractions is None else fractions)
    if list(fractions) != list(DEFER_SPLITS):
        raise ValueError(f"fractions must name the splits {list(DEFER_SPLITS)} in that order, got {list(fractions)}")
    keep = np.ones(len(ds), bool)
    if drop_unlabelled:
        keep = ~np.isnan(ds.labels).all(1)
        if not keep.any():
            raise ValueError(f"{ds.name}: no image has a known label for any of {ds.classes}")
    positions = np.flatnonzero(keep)
    table = ds.table.iloc[positions]
    assignment = split_by_patient(table, fractions, seed).to_numpy()
    check_patient_leakage(pd.DataFrame({"patient_id": table["patient_id"].to_numpy(), "split": assignment}))
    parts = {}
    for name in DEFER_SPLITS:
        part = ds.take(positions[assignment == name])
        part.table["split"] = name  # the view's own copy of the table
        parts[name] = part
    return DeferSplits(**parts, dropped=int(len(ds) - keep.sum()))
