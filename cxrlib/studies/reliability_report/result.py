"""Study 10: the result object: the reports, their side-by-side summary and the JSON (headline) it writes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ...nested import nested_get
from ...report import ReliabilityReport
from ..prose import short_ci
from .settings import ReliabilitySettings

__all__ = ["NOTEBOOK", "ReliabilityResult", "report_numbers"]

#: the notebook whose results and reports this study writes
NOTEBOOK = "10_reliability_report"


def _value(mapping: Any, *keys: str) -> float:
    """The number at ``keys`` inside ``mapping``; NaN where it is missing or None."""
    value = nested_get(mapping, *keys)
    return math.nan if value is None else float(value)


def report_numbers(report: ReliabilityReport) -> dict[str, Any]:
    """The numbers of ``report`` that the summary, the discussion and the results JSON hold (NaN where its
    section is absent): images, mean AUROC and interval, ECE of the model and of the best recalibration,
    weighted point localisation, AURC, the largest subgroup gap and the shortcut probe's shares."""
    sections = {s.key: s for s in report.sections}
    out: dict[str, Any] = {
        "images": int(report.settings["test images"]),
        "patients": int(report.settings["test patients"]),
        "absent": {s.key: s.reason for s in report.sections if not s.available},
    }
    disc = sections["discrimination"].data
    low, high = disc.get("mean_auroc_interval", [math.nan, math.nan])
    per_class = disc.get("per_class", {})
    out |= {
        "mean_auroc": _value(disc, "mean_auroc"),
        "mean_auroc_low": math.nan if low is None else float(low),
        "mean_auroc_high": math.nan if high is None else float(high),
        "classes_scored": sum(1 for row in per_class.values() if not math.isnan(_value(row, "auroc"))),
        "classes_unscored": [c for c, row in per_class.items() if math.isnan(_value(row, "auroc"))],
        "classes_with_chance_in_interval": [
            c for c, row in per_class.items() if _value(row, "low") <= 0.5 <= _value(row, "high")
        ],
    }
    pooled = sections["calibration"].data.get("pooled", {})
    out["ece_model"] = _value(pooled, "model", "ECE")
    best = min(pooled, key=lambda m: _value(pooled, m, "ECE"), default="model")
    out |= {
        "ece_best_method": best,
        "ece_best": _value(pooled, best, "ECE"),
        "recalibrations": sum(method != "model" for method in pooled),
        "validation": report.settings.get("validation images") != "none",
    }
    table = sections["localization"].data.get("table", {})
    out["point_localization"] = _value(table, "weighted", "point localisation")
    out["localized_pairs"] = _value(table, "weighted", "(image, class) pairs")
    aurc = sections["selective"].data.get("aurc", {})
    out["aurc_model"] = _value(aurc, "model")
    out["aurc_laplace"] = _value(aurc, "last-layer Laplace")
    gaps = sections["subgroups"].data.get("gaps", {})
    auroc_gaps = {k: v for k, v in gaps.items() if k.endswith(": mean AUROC")}
    if auroc_gaps:
        name, gap = max(auroc_gaps.items(), key=lambda kv: kv[1]["gap"])
        out["subgroup_gap"] = {"attribute": name.split(":")[0], **gap}
    probe = sections["shortcut"].data.get("table", {})
    for region, key in (("on the planted marker", "marker"), ("outside the thorax", "outside_thorax")):
        row = probe.get(f"map mass {region}", {})
        out[f"{key}_share"] = _value(row, "mean share")
        out[f"{key}_chance"] = _value(row, "share of the image")
    return out


def _interval(n: dict) -> str:
    if math.isnan(n["mean_auroc"]):
        return "–"
    if math.isnan(n["mean_auroc_low"]):
        return f"{n['mean_auroc']:.3f}"
    return f"{n['mean_auroc']:.3f} ({n['mean_auroc_low']:.3f}–{n['mean_auroc_high']:.3f})"


@dataclass
class ReliabilityResult:
    settings: ReliabilitySettings
    classes: list[str]
    reports: dict[str, ReliabilityReport]  #: "test split", and "NIH sample" where it ran
    model_source: str  #: where the model's weights come from, in a sentence
    nih_note: str = ""  #: how the classes map to NIH's, or why the NIH sample was not reported on
    dataset_name: str = ""
    run: dict = field(default_factory=dict)  #: the run header (see ``cxrlib.studies.runinfo``)
    headline: dict = field(default_factory=dict)
    saved: dict[str, dict[str, str]] = field(default_factory=dict)  #: report → {"html": path, "json": path}

    def numbers(self) -> dict[str, dict[str, Any]]:
        """:func:`report_numbers` of every report."""
        return {name: report_numbers(report) for name, report in self.reports.items()}

    def summary(self) -> pd.DataFrame:
        """One row per measure, one column per report: the headline of each section side by side."""
        numbers = self.numbers()
        rows: dict[str, dict[str, str]] = {}
        for name, n in numbers.items():
            unfitted = "– (no validation split)" if not n["validation"] else "–"
            column = {
                "test images (patients)": f"{n['images']:,} ({n['patients']:,})",
                "mean AUROC (95 % interval)": _interval(n),
                "classes with an AUROC": f"{n['classes_scored']} of {len(self.classes)}",
                "ECE, the model as it is": short_ci(n["ece_model"], None, 3),
                "lowest ECE (by)": unfitted
                if n["recalibrations"] == 0
                else f"{n['ece_best']:.3f} ({n['ece_best_method']})",
                "point localisation (boxed pairs)": "–"
                if math.isnan(n["point_localization"])
                else f"{n['point_localization']:.1%} ({int(n['localized_pairs'])})",
                "AURC, the model": short_ci(n["aurc_model"], None, 3),
                "AURC, Laplace predictive": unfitted if math.isnan(n["aurc_laplace"]) else f"{n['aurc_laplace']:.3f}",
                "largest subgroup AUROC gap": "–"
                if "subgroup_gap" not in n
                else f"{n['subgroup_gap']['gap']:.3f} ({n['subgroup_gap']['attribute']})",
                "map mass on the marker (uniform map)": "–"
                if math.isnan(n["marker_share"])
                else f"{n['marker_share']:.1%} ({n['marker_chance']:.1%})",
                "map mass outside the thorax (uniform map)": "–"
                if math.isnan(n["outside_thorax_share"])
                else f"{n['outside_thorax_share']:.1%} ({n['outside_thorax_chance']:.1%})",
            }
            rows[self.report_label(name)] = column
        table = pd.DataFrame(rows)
        table.index.name = "measure"
        return table

    def report_label(self, name: str) -> str:
        """The column heading of report ``name``: which data it ran on."""
        return f"{self.dataset_name} test split" if name == "test split" else "NIH ChestX-ray14 sample (real)"

    def absent_sections(self) -> pd.DataFrame:
        """One row per (report, section) not computed, with the reason."""
        rows = [
            (self.report_label(name), section.title, section.reason)
            for name, report in self.reports.items()
            for section in report.sections
            if not section.available
        ]
        return pd.DataFrame(rows, columns=["report", "section", "why it is absent"]).set_index(["report", "section"])

    def absent_markdown(self) -> str:
        """:meth:`absent_sections` as a Markdown list (the reasons are sentences: a table would cut them)."""
        table = self.absent_sections()
        if table.empty:
            return "Every section of every report was computed."
        return "\n".join(
            f"- **{report}**, {section}: {why}." for (report, section), why in table["why it is absent"].items()
        )

    def save_reports(self, folder: str | Path) -> dict[str, dict[str, str]]:
        """Each report as ``<folder>/<name>.html`` (self-contained) and ``.json``."""
        folder = Path(folder)
        for name, report in self.reports.items():
            stem = name.replace(" ", "_")
            self.saved[name] = {
                "html": str(report.save_html(folder / f"{stem}.html")),
                "json": str(report.save_json(folder / f"{stem}.json")),
            }
        return self.saved

    def make_headline(self) -> dict[str, Any]:
        """What ``results/10_reliability_report.json`` holds: the run, the model's source, each report's
        numbers and the reports' files."""
        return {
            "run": self.run,
            "dataset": self.settings.dataset,
            "profile": self.settings.profile,
            "image_size": self.settings.image_size,
            "backbone": self.settings.backbone,
            "model_source": self.model_source,
            "nih_note": self.nih_note,
            "reports": self.numbers(),
            "seconds": {name: report.seconds for name, report in self.reports.items()},
            "files": self.saved,
        }
