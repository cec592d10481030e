"""Section 2, calibration: ECE, adaptive ECE, Brier score and NLL per class, with reliability diagrams,
for the model as it is, after temperature scaling (one temperature, and one per class, fitted on the
validation split) and after a last-layer Laplace approximation (Bernoulli, fitted on the validation
split, probit predictive), so that a reader sees which of them helps this model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..bayes import BernoulliLastLayerLaplace
from ..calibration import TemperatureMode, fit_temperature
from ..metrics import (
    adaptive_calibration_error,
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_curve,
)
from .scoring import Scores
from .section import ReportSection

__all__ = ["calibration_metrics", "calibrated_probabilities", "calibration_section"]

TITLE = "Calibration"
METRICS = ("ECE", "adaptive ECE", "Brier", "NLL")


def calibration_metrics(probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """``probs (N, K)`` against ``labels (N, K)`` (NaN left out): one row per class with a known label,
    and a row ``"all (pooled)"`` over every known (image, class) decision."""
    rows = {}
    for k, c in enumerate(classes):
        known = ~np.isnan(labels[:, k])
        if known.any():
            rows[c] = _binary_metrics(probs[known, k], labels[known, k])
    known = ~np.isnan(labels)
    rows["all (pooled)"] = _binary_metrics(probs[known], labels[known])
    return pd.DataFrame.from_dict(rows, orient="index")


def _binary_metrics(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    p = np.clip(p, 0.0, 1.0)
    return {
        "n": int(len(y)),
        "ECE": expected_calibration_error(p, y, kind="binary"),
        "adaptive ECE": adaptive_calibration_error(p, y, kind="binary"),
        "Brier": brier_score(p, y, kind="binary"),
        "NLL": negative_log_likelihood(p, y, kind="binary"),
    }


def calibrated_probabilities(
    test: Scores, val: Scores | None, classes: list[str], last_layer_head=None
) -> tuple[dict[str, np.ndarray], list[str], dict]:
    """``{method: probs (N, K)}`` on the test split: ``"model"``, and where ``val`` allows it
    ``"temperature (global)"``, ``"temperature (per class)"`` and ``"last-layer Laplace"``; the notes on
    what was left out and why; the fitted parameters."""
    methods = {"model": test.probs}
    notes, fitted = [], {}
    if val is None:
        notes.append("No validation split was given: temperature scaling and the Laplace approximation need one.")
        return methods, notes, fitted
    temperatures = {
        "temperature (global)": TemperatureMode.GLOBAL,
        "temperature (per class)": TemperatureMode.PER_CLASS,
    }
    for name, mode in temperatures.items():
        try:
            scaling = fit_temperature(val.logits, val.labels, mode, classes=classes)
        except ValueError as err:
            notes.append(f"{name} left out: {err}")
            continue
        methods[name] = 1.0 / (1.0 + np.exp(-scaling.apply(test.logits)))
        fitted[name] = np.atleast_1d(scaling.temperature).tolist()
    if last_layer_head is None or val.features is None or test.features is None:
        notes.append("Last-layer Laplace left out: it needs the name of the model's linear last layer (last_layer=).")
        return methods, notes, fitted
    import torch

    laplace = BernoulliLastLayerLaplace(last_layer_head, "full" if val.features.shape[1] <= 512 else "diag")
    try:
        laplace.fit(torch.as_tensor(val.features), torch.as_tensor(val.labels))
        laplace.optimize_prior_precision()
        methods["last-layer Laplace"] = laplace.predict_proba(torch.as_tensor(test.features)).numpy()
    except (ValueError, RuntimeError) as err:
        notes.append(f"Last-layer Laplace left out: its fit failed ({err}).")
        return methods, notes, fitted
    fitted["last-layer Laplace"] = {
        "hessian": laplace.hessian.value,
        "prior_precision": laplace.prior_precision.tolist(),
    }
    return methods, notes, fitted


def calibration_section(
    test: Scores, methods: dict[str, np.ndarray], classes: list[str], notes: list[str], fitted: dict
) -> ReportSection:
    """The section from :func:`calibrated_probabilities`' ``methods``, ``notes`` and ``fitted``."""
    from ..plots.curves import reliability_diagram

    section = ReportSection("calibration", TITLE, notes=list(notes))
    tables = {name: calibration_metrics(p, test.labels, classes) for name, p in methods.items()}
    pooled = pd.DataFrame({name: t.loc["all (pooled)", list(METRICS)] for name, t in tables.items()}).T.astype(float)
    section.tables["Pooled over every known (image, class) decision"] = pooled
    section.tables["ECE per class"] = pd.DataFrame({name: t["ECE"].drop("all (pooled)") for name, t in tables.items()})
    known = ~np.isnan(test.labels)
    curves = {
        name: reliability_curve(np.clip(p[known], 0, 1), test.labels[known], kind="binary")
        for name, p in methods.items()
    }
    section.figures["Reliability diagram, every known decision pooled"] = reliability_diagram(
        curves, title="Reliability: the model and its recalibrations (test split)", ncols=1
    )
    per_class = {}
    for k, c in enumerate(classes):
        rows = ~np.isnan(test.labels[:, k])
        if rows.any():
            per_class[c] = {"model": reliability_curve(test.probs[rows, k], test.labels[rows, k], kind="binary")}
    section.figures["Reliability per class (the model as it is)"] = reliability_diagram(
        per_class,
        title="Reliability per class (test split)",
        ncols=2,  # two a row: legible in a narrow page
    )
    base = pooled.loc["model"]
    best = pooled["ECE"].idxmin()
    section.findings.append(
        f"As it is, the model's pooled ECE is {base['ECE']:.3f} (adaptive {base['adaptive ECE']:.3f}), "
        f"Brier {base['Brier']:.3f}, NLL {base['NLL']:.3f}."
    )
    if best != "model":
        section.findings.append(
            f"{best[0].upper() + best[1:]} gives the lowest pooled ECE, {pooled.loc[best, 'ECE']:.3f} "
            f"({pooled.loc[best, 'ECE'] - base['ECE']:+.3f}); its NLL is {pooled.loc[best, 'NLL']:.3f} "
            f"({pooled.loc[best, 'NLL'] - base['NLL']:+.3f})."
        )
    elif len(pooled) > 1:
        section.findings.append("None of the recalibrations lowers the pooled ECE below the model's own.")
    section.data = {
        "pooled": pooled.to_dict(orient="index"),
        "per_class": {name: t.to_dict(orient="index") for name, t in tables.items()},
        "fitted": fitted,
    }
    return section
