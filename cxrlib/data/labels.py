"""Uncertain-label policies: raw labels 1 / 0 / -1 / blank → 1.0 / 0.0 / NaN.

CheXpert-style labellers write 1 (positive), 0 (negative), -1 (uncertain) or leave the cell blank
(not mentioned). A policy says what an uncertain label becomes; a blank is always unknown (NaN)
unless ``blank_as_negative`` is asked for (the usual CheXpert training convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import numpy as np
import pandas as pd

__all__ = [
    "UncertainPolicy",
    "POLICY_PRESETS",
    "resolve_policy",
    "apply_label_policy",
    "validate_raw_labels",
    "READER_RULES",
    "labels_from_votes",
    "on_positive_labels",
]


class UncertainPolicy(str, Enum):
    """What an uncertain (-1) label becomes."""

    ONES = "ones"  #: uncertain → positive (U-Ones)
    ZEROS = "zeros"  #: uncertain → negative (U-Zeros)
    IGNORE = "ignore"  #: uncertain → NaN, masked out of the loss (U-Ignore)


#: Named per-class policies used by the studies. ``"*"`` is the default for unlisted classes.
POLICY_PRESETS: dict[str, dict[str, str]] = {
    # Sharma and Pradeep P. (2023): 1 for Cardiomegaly and Edema, 0 for the rest
    "sharma2023": {"Cardiomegaly": "ones", "Edema": "ones", "*": "zeros"},
    # LibAUC's CheXpert loader: ones for Edema and Atelectasis, zeros for the others
    "libauc": {"Edema": "ones", "Atelectasis": "ones", "*": "zeros"},
}


def resolve_policy(policy: str | Mapping[str, str], classes: list[str]) -> dict[str, UncertainPolicy]:
    """Turn a policy name, preset name or per-class mapping into ``{class: UncertainPolicy}``.

    A preset works on any subset of classes: its entries for classes not in ``classes`` are
    ignored. Raises ``ValueError`` for an unknown policy or preset, or a user-given mapping that
    names a class not in ``classes``.
    """
    if isinstance(policy, str):
        if policy in POLICY_PRESETS:
            preset = POLICY_PRESETS[policy]
            return resolve_policy({k: v for k, v in preset.items() if k == "*" or k in classes}, classes)
        return {c: _parse_policy(policy) for c in classes}
    if not isinstance(policy, Mapping):
        raise ValueError(f"label policy must be a string or a mapping, got {type(policy).__name__}")
    unknown = sorted(set(policy) - set(classes) - {"*"})
    if unknown:
        raise ValueError(f"label policy names unknown classes {unknown}; classes are {classes}")
    default = policy.get("*", UncertainPolicy.IGNORE.value)
    return {c: _parse_policy(policy.get(c, default)) for c in classes}


def _parse_policy(value: str | UncertainPolicy) -> UncertainPolicy:
    try:
        return UncertainPolicy(value)
    except ValueError:
        known = [p.value for p in UncertainPolicy] + sorted(POLICY_PRESETS)
        raise ValueError(f"unknown uncertain-label policy {value!r}; use one of {known}") from None


def validate_raw_labels(raw: pd.DataFrame, classes: list[str], source: str = "labels", row_word: str = "row") -> None:
    """Raise ``ValueError`` naming the file/row/column of any value not in {1, 0, -1, blank}.

    The row is named by ``raw``'s index (a reader can index by file line and say ``row_word="line"``).
    """
    missing = [c for c in classes if c not in raw.columns]
    if missing:
        raise ValueError(f"{source}: missing label columns {missing}")
    values = raw[classes].apply(pd.to_numeric, errors="coerce")
    bad_text = raw[classes].notna() & values.isna()
    bad_value = values.notna() & ~values.isin([1.0, 0.0, -1.0])
    bad = bad_text | bad_value
    if bad.to_numpy().any():
        row_pos, col_pos = np.argwhere(bad.to_numpy())[0]
        row = raw.index[row_pos]
        col = classes[col_pos]
        raise ValueError(
            f"{source}: {row_word} {row}, column {col!r}: unknown label value {raw[col].iloc[row_pos]!r}"
            f" (expected 1, 0, -1 or blank); {int(bad.to_numpy().sum())} bad cell(s) in all"
        )


def apply_label_policy(
    raw: pd.DataFrame,
    classes: list[str],
    policy: str | Mapping[str, str] = "ignore",
    blank_as_negative: bool = False,
    source: str = "labels",
) -> pd.DataFrame:
    """Map raw labels (1 / 0 / -1 / NaN) to training labels (1.0 / 0.0 / NaN).

    Returns a float DataFrame with one column per class, same index as ``raw``.
    """
    validate_raw_labels(raw, classes, source)
    per_class = resolve_policy(policy, classes)
    out = raw[classes].apply(pd.to_numeric).astype(float)
    for c in classes:
        col = out[c]
        uncertain = col == -1.0
        replacement = {UncertainPolicy.ONES: 1.0, UncertainPolicy.ZEROS: 0.0, UncertainPolicy.IGNORE: np.nan}
        col = col.mask(uncertain, replacement[per_class[c]])
        if blank_as_negative:
            col = col.mask(raw[c].isna(), 0.0)
        out[c] = col
    return out


#: how many readers must mark a finding for it to count, per reader rule
READER_RULES: dict[str, int] = {"union": 1, "majority": 2}


def labels_from_votes(votes: pd.DataFrame, rule: str = "union") -> pd.DataFrame:
    """Image labels from reader votes: ``votes`` is ``(images, classes)``, how many readers marked each
    class on each image; the result has the same shape, 1.0 where at least ``READER_RULES[rule]``
    readers did ("union": any reader; "majority": two or more, as VinDr-CXR's three readers), else 0.0."""
    if rule not in READER_RULES:
        raise ValueError(f"unknown reader rule {rule!r}; use one of {list(READER_RULES)}")
    return (votes >= READER_RULES[rule]).astype(float)


def on_positive_labels(labels: pd.DataFrame, images, classes) -> np.ndarray:
    """``(N,)`` bool: for each (image, class) pair of ``images`` and ``classes`` (e.g. the columns of
    a box table), whether ``labels`` (index: image keys, columns: class names) holds 1.0 there; a pair
    that ``labels`` does not have is False."""
    stacked = labels.stack()
    positive = set(stacked.index[stacked.to_numpy() == 1.0])
    return np.array([(i, c) in positive for i, c in zip(images, classes, strict=True)], bool)
