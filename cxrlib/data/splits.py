"""Patient-level splits and the leakage check."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["PatientLeakageError", "split_by_patient", "check_patient_leakage", "DEFAULT_FRACTIONS"]

DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.7, "val": 0.15, "test": 0.15}


class PatientLeakageError(ValueError):
    """A patient has images in more than one split."""


def split_by_patient(
    table: pd.DataFrame,
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    patient_column: str = "patient_id",
) -> pd.Series:
    """Assign every row to a split so that each patient lies in exactly one split.

    Patients (not images) are shuffled with ``seed`` and cut by ``fractions`` (which must sum to 1).
    Returns a string Series aligned with ``table.index``. Raises ``ValueError`` when a split with a
    positive fraction would be empty.
    """
    if patient_column not in table.columns:
        raise ValueError(f"table has no {patient_column!r} column; columns are {list(table.columns)}")
    if table[patient_column].isna().any():
        row = table.index[table[patient_column].isna()][0]
        raise ValueError(f"row {row}: missing {patient_column}")
    total = float(sum(fractions.values()))
    if any(f < 0 for f in fractions.values()) or not np.isclose(total, 1.0):
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {dict(fractions)}")
    patients = np.array(sorted(table[patient_column].unique(), key=str), dtype=object)
    rng = np.random.default_rng(seed)
    rng.shuffle(patients)
    bounds = np.round(np.cumsum([0.0, *fractions.values()]) * len(patients)).astype(int)
    assignment: dict[object, str] = {}
    for (name, fraction), lo, hi in zip(fractions.items(), bounds[:-1], bounds[1:]):
        if fraction > 0 and hi <= lo:
            raise ValueError(
                f"split {name!r} would be empty: {len(patients)} patients are too few for fractions {dict(fractions)}"
            )
        assignment.update({p: name for p in patients[lo:hi]})
    return table[patient_column].map(assignment).astype(str).rename("split")


def check_patient_leakage(table: pd.DataFrame, split_column: str = "split", patient_column: str = "patient_id") -> None:
    """Raise ``PatientLeakageError`` if any patient appears in two splits (names the first few)."""
    per_patient = table.groupby(patient_column)[split_column].nunique()
    leaking = per_patient[per_patient > 1]
    if len(leaking):
        examples = []
        for patient in leaking.index[:5]:
            splits = sorted(table.loc[table[patient_column] == patient, split_column].unique())
            examples.append(f"{patient} in {splits}")
        raise PatientLeakageError(f"{len(leaking)} patient(s) appear in more than one split: " + "; ".join(examples))
