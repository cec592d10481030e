"""Section 5, subgroups: for each attribute the dataset records (sex, age band, view, site), per group
the mean AUROC over classes (with a bootstrap-over-patients interval), the pooled ECE and the
false-negative rate at 0.5 (with an interval), and the largest gap between groups named."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics import expected_calibration_error
from .bootstrap import PatientBootstrap, bootstrap_mean_auroc
from .scoring import Scores
from .section import ReportSection, absent

__all__ = ["SUBGROUP_COLUMNS", "AGE_BANDS", "subgroup_labels", "subgroup_table", "subgroups_section"]

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


def _group_statistics(scores: Scores, rows: np.ndarray, bootstrap: PatientBootstrap) -> dict[str, float]:
    probs, labels = scores.probs[rows], scores.labels[rows]
    weights = bootstrap.weights[:, rows]
    # AUROC on logits, as the discrimination section ranks them
    auroc = bootstrap_mean_auroc(scores.logits[rows], labels, bootstrap.subset(rows))
    known = ~np.isnan(labels)
    positive = known & (labels == 1)
    missed = positive & (probs < 0.5)
    # (B,): weighted positives, and those missed (whole numbers, exact in float32 below 2**24)
    w_pos, w_missed = (np.asarray(weights @ m.sum(1).astype(np.float32), np.float64) for m in (positive, missed))
    fnr_boot = np.where(w_pos > 0, w_missed / np.maximum(w_pos, 1e-12), np.nan)
    out = {
        "images": int(len(rows)),
        "patients": int(scores.table["patient_id"].iloc[rows].nunique()),
        "mean AUROC": auroc["mean_auroc"],
        "AUROC low": auroc["low"],
        "AUROC high": auroc["high"],
        "ECE": expected_calibration_error(np.clip(probs[known], 0, 1), labels[known], kind="binary"),
        "FNR at 0.5": float(missed.sum() / positive.sum()) if positive.any() else np.nan,
        "FNR low": np.nan,
        "FNR high": np.nan,
    }
    fnr_boot = fnr_boot[~np.isnan(fnr_boot)]
    if len(fnr_boot) and positive.any():
        out["FNR low"], out["FNR high"] = np.quantile(fnr_boot, [0.025, 0.975])
    return out


def subgroup_table(scores: Scores, bootstrap: PatientBootstrap) -> pd.DataFrame:
    """One row per (attribute, group) with at least :data:`MIN_GROUP` images (see the module)."""
    rows = {}
    for attribute, groups in subgroup_labels(scores.table).items():
        order = ["<40", "40–59", "60–79", "80+"] if attribute == "age" else sorted(groups.dropna().unique(), key=str)
        for group in [g for g in order if (groups == g).any()]:
            members = np.flatnonzero((groups == group).to_numpy())
            if len(members) >= MIN_GROUP:
                rows[(attribute, str(group))] = _group_statistics(scores, members, bootstrap)
    table = pd.DataFrame.from_dict(rows, orient="index")
    if not table.empty:
        table.index = pd.MultiIndex.from_tuples(table.index, names=["attribute", "group"])
    return table


def subgroups_section(scores: Scores, bootstrap: PatientBootstrap) -> ReportSection:
    attributes = subgroup_labels(scores.table)
    if not attributes:
        return absent(
            "subgroups",
            TITLE,
            f"the dataset records none of {', '.join(SUBGROUP_COLUMNS)} with two or more groups",
        )
    table = subgroup_table(scores, bootstrap)
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
                gaps[(attribute, metric)] = (float(values[hi] - values[lo]), hi, lo)
    for metric in ("mean AUROC", "FNR at 0.5"):
        candidates = {k: v for k, v in gaps.items() if k[1] == metric}
        if candidates:
            (attribute, _), (gap, hi, lo) = max(candidates.items(), key=lambda kv: kv[1][0])
            section.findings.append(
                f"Largest {metric} gap: {attribute} {hi} {table.loc[(attribute, hi), metric]:.3f} against "
                f"{lo} {table.loc[(attribute, lo), metric]:.3f} (difference {gap:.3f})."
            )
    small = [a for a, g in attributes.items() if (g.value_counts() < MIN_GROUP).any()]
    if small:
        section.notes.append(f"Groups with fewer than {MIN_GROUP} test images are left out ({', '.join(small)}).")
    section.data = {
        "table": {f"{a}={g}": row for (a, g), row in table.to_dict(orient="index").items()},
        "gaps": {f"{a}: {m}": {"gap": v[0], "highest": v[1], "lowest": v[2]} for (a, m), v in gaps.items()},
    }
    return section
