"""Section 1, discrimination: per-class AUROC with 95 % intervals from the bootstrap over patients,
unknown labels left out per class, and the mean over classes with its own interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import PatientBootstrap, auroc_summary, class_resamples, mean_summary
from .scoring import Scores
from .section import ReportSection, absent

__all__ = ["FEW_POSITIVES", "auroc_table", "discrimination_section"]

TITLE = "Discrimination: AUROC per class"
#: positives below which a class's AUROC is flagged as resting on a handful of images
FEW_POSITIVES = 5


def auroc_table(scores: Scores, classes: list[str], bootstrap: PatientBootstrap) -> pd.DataFrame:
    """One row per class: known labels ``n``, ``positives``, ``auroc`` and its interval ``low``–``high``
    (NaN where the class has only one label value among the known ones)."""
    return pd.DataFrame.from_dict(_per_class(scores, classes, bootstrap)[0], orient="index")


def _per_class(scores: Scores, classes: list[str], bootstrap: PatientBootstrap) -> tuple[dict, dict]:
    """Each class's summary row, and the mean over classes (:func:`mean_summary`), from one pass of resamples."""
    per_class = [class_resamples(scores.logits[:, k], scores.labels[:, k], bootstrap) for k in range(len(classes))]
    return {c: auroc_summary(r) for c, r in zip(classes, per_class)}, mean_summary(per_class)


def discrimination_section(scores: Scores, classes: list[str], bootstrap: PatientBootstrap) -> ReportSection:
    rows, overall = _per_class(scores, classes, bootstrap)
    table = pd.DataFrame.from_dict(rows, orient="index")
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
        f"Intervals: {bootstrap.resamples:,} resamples of the {patients:,} test patients "
        f"({len(scores.table):,} images); each resample keeps all of a drawn patient's images."
    )
    if 0 < overall["resamples"] < bootstrap.resamples:
        section.notes.append(
            f"The mean's interval is over the {overall['resamples']:,} of {bootstrap.resamples:,} resamples in which "
            "every scored class has a positive and a negative image: it is conditional on drawing them."
        )
    best, worst = scored["auroc"].idxmax(), scored["auroc"].idxmin()
    mean = overall["mean_auroc"]
    interval = f" (95 % interval {overall['low']:.3f}–{overall['high']:.3f})" if np.isfinite(overall["low"]) else ""
    noun = "class" if len(scored) == 1 else "classes"
    section.findings.append(
        f"Mean AUROC over the {len(scored)} scored {noun}: {mean:.3f}{interval}; highest {best} "
        f"({scored.loc[best, 'auroc']:.3f}), lowest {worst} ({scored.loc[worst, 'auroc']:.3f}, "
        f"95 % interval {scored.loc[worst, 'low']:.3f}–{scored.loc[worst, 'high']:.3f})."
    )
    few = scored[scored["positives"] < FEW_POSITIVES]
    if len(few):
        listed = ", ".join(f"{c} ({int(n)})" for c, n in few["positives"].items())
        section.findings.append(
            f"Fewer than {FEW_POSITIVES} positive images for {listed}: such an AUROC, and its interval, rest on "
            "the ranks of those few images; read them as anecdotes, not rates."
        )
    wide = scored[(scored["high"] - scored["low"]) > 0.2]
    if len(wide):
        section.findings.append(
            f"Wide intervals (over 0.2) for {', '.join(wide.index)}: too few positive patients to pin the AUROC down."
        )
    section.data = {
        "mean_auroc": mean,
        "mean_auroc_interval": [overall["low"], overall["high"]],
        "mean_auroc_resamples": overall["resamples"],
        "per_class": table.to_dict(orient="index"),
    }
    return section
