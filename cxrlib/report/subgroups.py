"""Section 5, subgroups: for each attribute the dataset records (sex, age band, view, site), per group
the mean AUROC over classes (with a bootstrap-over-patients interval), the pooled ECE and the
false-negative rate at 0.5 (with an interval), and the largest gap between groups named."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..metrics import expected_calibration_error
from .bootstrap import PatientBootstrap, class_resamples, mean_over_classes, mean_summary, percentile_interval
from .scoring import Scores
from .section import ReportSection, absent

__all__ = ["SUBGROUP_COLUMNS", "AGE_BANDS", "subgroup_labels", "subgroup_table", "gap_interval", "subgroups_section"]

TITLE = "Subgroups"
#: table columns that define subgroups, in report order (``age`` is cut into :data:`AGE_BANDS`)
SUBGROUP_COLUMNS = ("sex", "age", "view", "site")
AGE_BANDS = (0, 40, 60, 80, 200)
MIN_GROUP = 20  #: images a group needs to be reported


def subgroup_labels(table: pd.DataFrame) -> dict[str, pd.Series]:
    """``{attribute: group of each row}`` for the attributes of :data:`SUBGROUP_COLUMNS` the table has
    with at least two groups (age in bands ``<40``, ``40–59``, ``60–79``, ``80+``)."""
    out = {}
    for column in SUBGROUP_COLUMNS:
        if column not in table.columns:
            continue
        values = table[column]
        if column == "age":
            age = pd.to_numeric(values, errors="coerce")
            names = ["<40", "40–59", "60–79", "80+"]
            values = pd.cut(age, AGE_BANDS, right=False, labels=names).astype(object)
        values = values.where(values.notna(), None).astype(object)
        if values.dropna().nunique() >= 2:
            out[column] = values
    return out


def _group_statistics(
    scores: Scores, rows: np.ndarray, bootstrap: PatientBootstrap
) -> tuple[dict[str, float], dict[str, Any]]:
    """The table row of the group of images ``rows``, and its resample values: ``per_class`` (a
    :class:`ClassResamples` per class, AUROC on logits as the discrimination section ranks them) and
    ``fnr (B,)``."""
    probs, labels = scores.probs[rows], scores.labels[rows]
    per_class = [class_resamples(scores.logits[rows, k], labels[:, k], bootstrap, rows) for k in range(labels.shape[1])]
    auroc = mean_summary(per_class)
    known = ~np.isnan(labels)
    positive = known & (labels == 1)
    missed = positive & (probs < 0.5)
    # (B,): weighted positives, and those missed; whole numbers, exact in float32 below 2**24. The counts are
    # spread over all N images (zero outside the group), so the (B, N) weights are not copied
    counts = np.zeros((2, bootstrap.weights.shape[1]), np.float32)
    counts[0, rows], counts[1, rows] = positive.sum(1), missed.sum(1)
    w_pos, w_missed = np.asarray(bootstrap.weights @ counts.T, np.float64).T
    with np.errstate(invalid="ignore", divide="ignore"):
        fnr_boot = np.where(w_pos > 0, w_missed / w_pos, np.nan)
    fnr_low, fnr_high, _ = percentile_interval(fnr_boot) if positive.any() else (np.nan, np.nan, 0)
    out = {
        "images": int(len(rows)),
        "patients": int(scores.table["patient_id"].iloc[rows].nunique()),
        "mean AUROC": auroc["mean_auroc"],
        "AUROC low": auroc["low"],
        "AUROC high": auroc["high"],
        "ECE": expected_calibration_error(np.clip(probs[known], 0, 1), labels[known], kind="binary"),
        "FNR at 0.5": float(missed.sum() / positive.sum()) if positive.any() else np.nan,
        "FNR low": fnr_low,
        "FNR high": fnr_high,
    }
    return out, {"per_class": per_class, "fnr": fnr_boot}


def _subgroups(scores: Scores, bootstrap: PatientBootstrap) -> tuple[pd.DataFrame, dict]:
    """:func:`subgroup_table`, and each row's resample values (see :func:`_group_statistics`)."""
    rows, resamples = {}, {}
    for attribute, groups in subgroup_labels(scores.table).items():
        order = ["<40", "40–59", "60–79", "80+"] if attribute == "age" else sorted(groups.dropna().unique(), key=str)
        for group in [g for g in order if (groups == g).any()]:
            members = np.flatnonzero((groups == group).to_numpy())
            if len(members) >= MIN_GROUP:
                key = (attribute, str(group))
                rows[key], resamples[key] = _group_statistics(scores, members, bootstrap)
    table = pd.DataFrame.from_dict(rows, orient="index")
    if not table.empty:
        table.index = pd.MultiIndex.from_tuples(table.index, names=["attribute", "group"])
    return table, resamples


def subgroup_table(scores: Scores, bootstrap: PatientBootstrap) -> pd.DataFrame:
    """One row per (attribute, group) with at least :data:`MIN_GROUP` images (see the module)."""
    return _subgroups(scores, bootstrap)[0]


def gap_interval(high: dict[str, Any], low: dict[str, Any], metric: str) -> dict[str, float]:
    """The percentile interval (``low``, ``high``) of the per-resample difference ``high − low`` of ``metric``
    ("mean AUROC" or "FNR at 0.5") between two groups' resample values (:func:`_group_statistics`; both
    groups are drawn in the same resamples). The AUROC difference is over the classes both groups score
    (their number is ``classes``; None for the FNR)."""
    if metric == "FNR at 0.5":
        difference, classes = high["fnr"] - low["fnr"], None
    else:
        common = [i for i, (a, b) in enumerate(zip(high["per_class"], low["per_class"])) if a.scored and b.scored]
        if not common:
            return {"low": np.nan, "high": np.nan, "classes": 0}
        h_values = mean_over_classes([high["per_class"][i] for i in common])[1]
        l_values = mean_over_classes([low["per_class"][i] for i in common])[1]
        difference, classes = h_values - l_values, len(common)
    lo, hi, _ = percentile_interval(difference)
    return {"low": lo, "high": hi, "classes": classes}


def subgroups_section(scores: Scores, bootstrap: PatientBootstrap) -> ReportSection:
    attributes = subgroup_labels(scores.table)
    if not attributes:
        return absent(
            "subgroups",
            TITLE,
            f"the dataset records none of {', '.join(SUBGROUP_COLUMNS)} with two or more groups",
        )
    table, resamples = _subgroups(scores, bootstrap)
    if table.empty:
        return absent("subgroups", TITLE, f"no subgroup of {', '.join(attributes)} has {MIN_GROUP} test images")
    section = ReportSection("subgroups", TITLE)
    section.tables["Per subgroup (95 % intervals: bootstrap over patients)"] = table
    gaps = {}
    for attribute in table.index.get_level_values(0).unique():
        part = table.loc[attribute]
        if len(part) < 2:
            continue
        for metric in ("mean AUROC", "FNR at 0.5"):
            values = part[metric].dropna()
            if len(values) >= 2:
                hi, lo = values.idxmax(), values.idxmin()
                interval = gap_interval(resamples[(attribute, hi)], resamples[(attribute, lo)], metric)
                gaps[(attribute, metric)] = {"gap": float(values[hi] - values[lo]), "highest": hi, "lowest": lo}
                gaps[(attribute, metric)] |= {
                    "gap_low": interval["low"],
                    "gap_high": interval["high"],
                    "gap_classes": interval["classes"],
                }
    for metric in ("mean AUROC", "FNR at 0.5"):
        candidates = {k: v for k, v in gaps.items() if k[1] == metric}
        if candidates:
            (attribute, _), gap = max(candidates.items(), key=lambda kv: kv[1]["gap"])
            hi, lo = gap["highest"], gap["lowest"]
            line = (
                f"Largest {metric} gap: {attribute} {hi} {table.loc[(attribute, hi), metric]:.3f} against "
                f"{lo} {table.loc[(attribute, lo), metric]:.3f} (difference {gap['gap']:.3f}"
            )
            if np.isfinite(gap["gap_low"]):
                over = "" if metric != "mean AUROC" else f", over the {gap['gap_classes']} classes both groups score"
                line += f"; 95 % interval of the difference {gap['gap_low']:.3f} to {gap['gap_high']:.3f}{over}"
            section.findings.append(line + ").")
    small = [a for a, g in attributes.items() if (g.value_counts() < MIN_GROUP).any()]
    if small:
        section.notes.append(f"Groups with fewer than {MIN_GROUP} test images are left out ({', '.join(small)}).")
    section.data = {
        "table": {f"{a}={g}": row for (a, g), row in table.to_dict(orient="index").items()},
        "gaps": {f"{a}: {m}": v for (a, m), v in gaps.items()},
    }
    return section
