"""Study 05: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.special

from ...metrics import (
    reliability_curve,
)
from ...scorecard import DECIMALS
from .settings import CalibrationSettings

__all__ = ["STAGES", "LogitRun", "CalibrationResult", "headline"]


#: the three ways a model's test logits are scored
STAGES = ("before", "global T", "per-class T")


@dataclass
class LogitRun:
    """One trained model's validation and test logits (from 04's artifact or trained here)."""

    loss: str
    label: str
    seed: int
    val_logits: np.ndarray  #: (N_val, K)
    val_labels: np.ndarray
    test_logits: np.ndarray  #: (N_test, K)
    test_labels: np.ndarray
    train_seconds: float = float("nan")


def _pooled_curve(logits: np.ndarray, labels: np.ndarray, n_bins: int):
    """A binary reliability curve of every known (image, class) pair pooled."""
    y = np.asarray(labels, np.float64)
    known = ~np.isnan(y)
    return reliability_curve(scipy.special.expit(np.asarray(logits, np.float64)[known]), y[known], n_bins, "binary")


@dataclass
class CalibrationResult:
    settings: CalibrationSettings
    classes: list[str]
    runs: list[LogitRun]
    logits_source: str  #: "loaded from 04_imbalance_losses" or "trained here (why)"
    temperatures: dict = field(default_factory=dict)  #: (label, seed) → {"global": T, "per-class": T (K,)}
    metrics: pd.DataFrame | None = None  #: one row per (label, seed, split, stage)
    mimo: pd.DataFrame | None = None  #: one row per model kind
    mimo_info: dict = field(default_factory=dict)  #: member seeds, MIMO's seed, the members' own AUROCs
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(r.label for r in self.runs))

    @property
    def loaded(self) -> bool:
        return self.logits_source.startswith("loaded")

    def scaled(self, run: LogitRun, stage: str, split: str = "test") -> np.ndarray:
        """``run``'s logits of ``split`` at ``stage`` ("before", "global T", "per-class T")."""
        z = run.test_logits if split == "test" else run.val_logits
        if stage == "before":
            return np.asarray(z, np.float64)
        t = self.temperatures[(run.label, run.seed)]["global" if stage == "global T" else "per-class"]
        return np.asarray(z, np.float64) / t

    def table_4_3(self) -> pd.DataFrame:
        """Table 4.3: mean test ECE-15 before → after global temperature scaling per loss (means over
        seeds), with the per-class temperature beside it."""
        m = self.metrics[self.metrics["split"] == "test"]
        mean = m.groupby(["label", "stage"], sort=False)["ECE"].mean().unstack()
        table = pd.DataFrame(
            {
                "ECE before": mean["before"],
                "ECE after (global T)": mean["global T"],
                "before → after": [
                    f"{b:.{DECIMALS}f} → {a:.{DECIMALS}f}"
                    for b, a in zip(mean["before"], mean["global T"], strict=True)
                ],
                "ECE after (per-class T)": mean["per-class T"],
            }
        )
        return table.loc[[label for label in self.labels if label in table.index]]

    def side_by_side(self, split: str = "test") -> pd.DataFrame:
        """ECE, adaptive ECE, NLL, Brier and AUROC per loss and stage (rows), means over seeds."""
        m = self.metrics[self.metrics["split"] == split]
        table = m.groupby(["label", "stage"], sort=False)[
            ["ECE", "adaptive ECE", "NLL", "Brier", "mean p − rate", "AUROC"]
        ].mean()
        return table

    def temperature_table(self) -> pd.DataFrame:
        """Fitted temperatures per loss (rows): the global T and each class's T, means over seeds."""
        rows = {}
        for label in self.labels:
            ts = [v for (lab, _), v in self.temperatures.items() if lab == label]
            row = {"global T": float(np.mean([float(t["global"]) for t in ts]))}
            per = np.mean([np.asarray(t["per-class"], float) for t in ts], axis=0)
            row.update({c: float(v) for c, v in zip(self.classes, per, strict=True)})
            rows[label] = row
        return pd.DataFrame(rows).T

    def reliability_figure(self):
        """One panel per loss: the test reliability curve before and after global and per-class
        temperature scaling, every known (image, class) pair of every seed pooled."""
        from ... import plots

        panels = {}
        for label in self.labels:
            runs = [r for r in self.runs if r.label == label]
            labels = np.concatenate([r.test_labels for r in runs])
            panels[label] = {
                stage: _pooled_curve(
                    np.concatenate([self.scaled(r, stage) for r in runs]), labels, self.settings.n_bins
                )
                for stage in STAGES
            }
        return plots.reliability_diagram(
            panels, "Test reliability, classes and seeds pooled (ECE of the pooled pairs)", ncols=len(panels)
        )

    def per_class_reliability_figure(self, label: str | None = None):
        """One panel per class for one loss (default: the first, CE), before and after temperature
        scaling, seeds pooled; the legend's ECE is that class's binary ECE over the pooled seeds."""
        from ... import plots

        label = label or self.labels[0]
        runs = [r for r in self.runs if r.label == label]
        y = np.concatenate([r.test_labels for r in runs])
        panels = {}
        for k, c in enumerate(self.classes):
            known = ~np.isnan(y[:, k])
            panels[c] = {
                stage: reliability_curve(
                    scipy.special.expit(np.concatenate([self.scaled(r, stage) for r in runs])[known, k]),
                    y[known, k],
                    self.settings.n_bins,
                    "binary",
                )
                for stage in STAGES
            }
        return plots.reliability_diagram(panels, f"{label}: test reliability per class, seeds pooled", ncols=3)

    def mimo_table(self) -> pd.DataFrame | None:
        """The MIMO comparison as shown: counts (forward passes, parameters) as integers."""
        if self.mimo is None:
            return None
        counts = [c for c in ("forward passes / image", "parameters") if c in self.mimo.columns]
        return self.mimo.astype({c: int for c in counts})


def headline(result: CalibrationResult, mimo_info: dict) -> dict:
    s = result.settings
    m = result.metrics
    losses = {}
    temps = result.temperature_table()
    for label in result.labels:
        loss = next(r.loss for r in result.runs if r.label == label)

        def mean(split, stage, metric, label=label):
            part = m[(m["label"] == label) & (m["split"] == split) & (m["stage"] == stage)]
            return float(part[metric].mean())

        entry = {"label": label, "seeds": int(((m["label"] == label) & (m["split"] == "test")).sum() // len(STAGES))}
        for key, stage in (("before", "before"), ("after_ts", "global T"), ("after_per_class_ts", "per-class T")):
            for metric, name in (
                ("ECE", "ece_15"),
                ("adaptive ECE", "adaptive_ece"),
                ("NLL", "nll"),
                ("Brier", "brier"),
            ):
                entry[f"{name}_{key}"] = mean("test", stage, metric)
                entry[f"val_{name}_{key}"] = mean("val", stage, metric)
            entry[f"auroc_{key}"] = mean("test", stage, "AUROC")
        entry["ece_15_before_after_ts"] = (
            f"{entry['ece_15_before']:.{DECIMALS}f} → {entry['ece_15_after_ts']:.{DECIMALS}f}"
        )
        entry["temperature_global"] = float(temps.loc[label, "global T"])
        entry["temperature_per_class"] = {c: float(temps.loc[label, c]) for c in result.classes}
        losses[loss] = entry
    mimo = {}
    keys = {
        "mean AUROC": "mean_auroc",
        "NLL": "nll",
        "ECE": "ece_15",
        "Brier": "brier",
        "ECE after TS": "ece_15_after_ts",
        "forward passes / image": "forward_passes_per_image",
        "ms / image": "ms_per_image",
        "time ÷ single": "time_over_single",
        "parameters": "parameters",
        "training s": "train_seconds",
    }
    for name, key in zip(result.mimo.index, ("single", "ensemble", "mimo"), strict=True):
        mimo[key] = {"label": name, **{v: float(result.mimo.loc[name, k]) for k, v in keys.items()}}
    return {
        "run": result.run,
        "dataset": s.dataset,
        "profile": s.profile,
        "backbone": s.backbone,
        "logits_source": result.logits_source,
        "logits_loaded": result.loaded,
        "losses": losses,
        "mimo": {**mimo, **{k: v for k, v in mimo_info.items() if k != "trained_members"}},
    }
