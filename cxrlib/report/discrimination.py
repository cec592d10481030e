"""Section 1, discrimination: per-class AUROC with 95 % intervals from the bootstrap over patients,
unknown labels left out per class."""

from __future__ import annotations

import pandas as pd

from .bootstrap import PatientBootstrap, bootstrap_auroc, bootstrap_mean_auroc
from .scoring import Scores
from .section import ReportSection, absent

__all__ = ["auroc_table", "discrimination_section"]

TITLE = "Discrimination: AUROC per class"


def auroc_table(scores: Scores, classes: list[str], bootstrap: PatientBootstrap) -> pd.DataFrame:
    """One row per class: known labels ``n``, ``positives``, ``auroc`` and its interval ``low``–``high``
    (NaN where the class has only one label value among the known ones)."""
    rows = {c: bootstrap_auroc(scores.logits[:, k], scores.labels[:, k], bootstrap) for k, c in enumerate(classes)}
    return pd.DataFrame.from_dict(rows, orient="index")


def discrimination_section(scores: Scores, classes: list[str], bootstrap: PatientBootstrap) -> ReportSection:
    table = auroc_table(scores, classes, bootstrap)
    scored = table.dropna(subset=["auroc"])
    if scored.empty:
        return absent(
            "discrimination", TITLE, "no class has both a positive and a negative known label in the test split"
        )
    section = ReportSection("discrimination", TITLE)
    shown = table[["n", "positives", "auroc", "low", "high"]].rename(
        columns={"n": "known labels", "auroc": "AUROC", "low": "95 % low", "high": "95 % high"}
    )
    section.tables["AUROC per class (95 % interval: bootstrap over patients)"] = shown
    missing = table.index[table["auroc"].isna()].tolist()
    if missing:
        section.notes.append(
            f"No AUROC for {', '.join(missing)}: the test split has only one label value (or none known) there."
        )
    patients = scores.table["patient_id"].nunique()
    section.notes.append(
        f"Intervals: {bootstrap.weights.shape[0]:,} resamples of the {patients:,} test patients "
        f"({len(scores.table):,} images); each resample keeps all of a drawn patient's images."
    )
    best, worst = scored["auroc"].idxmax(), scored["auroc"].idxmin()
    overall = bootstrap_mean_auroc(scores.logits, scores.labels, bootstrap)
    mean = overall["mean_auroc"]
    section.findings.append(
        f"Mean AUROC over the {len(scored)} scored classes: {mean:.3f} "
        f"(95 % interval {overall['low']:.3f}–{overall['high']:.3f}); highest {best} "
        f"({scored.loc[best, 'auroc']:.3f}), lowest {worst} ({scored.loc[worst, 'auroc']:.3f}, "
        f"95 % interval {scored.loc[worst, 'low']:.3f}–{scored.loc[worst, 'high']:.3f})."
    )
    wide = scored[(scored["high"] - scored["low"]) > 0.2]
    if len(wide):
        section.findings.append(
            f"Wide intervals (over 0.2) for {', '.join(wide.index)}: too few positive patients to pin the AUROC down."
        )
    section.data = {
        "mean_auroc": mean,
        "mean_auroc_interval": [overall["low"], overall["high"]],
        "per_class": table.to_dict(orient="index"),
    }
    return section
