"""Section 4, selective prediction: every known (image, class) decision answered by the model at 0.5,
ordered by doubt (``min(p, 1 − p)``, the most confident first) from the model's probabilities and from the last-layer
Laplace predictive; risk–coverage curves, the area under them (AURC), and at a few deferral costs
``c`` the coverage and kept accuracy of Chow's rule (answer when ``min(p, 1 − p) ≤ c``, the expected
error of answering no greater than the cost of deferring)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..defer.metrics import aurc, risk_coverage_curve
from .section import ReportSection

__all__ = ["DEFAULT_COSTS", "decisions", "chow_table", "selective_section"]

TITLE = "Selective prediction: what the model gets right when it may abstain"
DEFAULT_COSTS = (0.05, 0.1, 0.2, 0.3)


def decisions(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(doubt, wrong)`` over the known (image, class) decisions: ``min(p, 1 − p)`` (the expected error of
    answering; the least doubtful are kept first) and whether the answer ``p ≥ 0.5`` disagrees with the
    label."""
    known = ~np.isnan(labels)
    p, y = np.clip(probs[known], 0.0, 1.0), labels[known]
    return np.minimum(p, 1 - p), ((p >= 0.5) != (y == 1)).astype(float)


def chow_table(probs: np.ndarray, labels: np.ndarray, costs=DEFAULT_COSTS) -> pd.DataFrame:
    """Per cost ``c``: ``coverage`` (share of decisions answered), ``kept accuracy`` (NaN if none is
    answered) and ``system cost`` (``c`` per deferral plus 1 per wrong answer, per decision)."""
    doubt, wrong = decisions(probs, labels)
    rows = {}
    for c in costs:
        keep = doubt <= c + 1e-12  # p = 0.7 gives 1 − p = 0.30000000000000004: at c = 0.3 it is answered
        rows[f"c = {c:g}"] = {
            "coverage": float(keep.mean()),
            "kept accuracy": float(1 - wrong[keep].mean()) if keep.any() else np.nan,
            "system cost": float((c * (~keep) + wrong * keep).mean()),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def selective_section(methods: dict[str, np.ndarray], labels: np.ndarray, costs=DEFAULT_COSTS) -> ReportSection:
    """``methods``: ``{name: probs (N, K)}``; the model's (``"model"``) and the Laplace predictive's
    (``"last-layer Laplace"``) are used where present."""
    import matplotlib.pyplot as plt

    used = {name: p for name, p in methods.items() if name in ("model", "last-layer Laplace")}
    section = ReportSection("selective", TITLE)
    if "last-layer Laplace" not in used:
        section.notes.append(
            "Only the model's confidence: the Laplace predictive needs a validation split and last_layer=."
        )
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    areas, tables = {}, {}
    for name, probs in used.items():
        doubt, wrong = decisions(probs, labels)
        coverage, risk = risk_coverage_curve(doubt, wrong)
        areas[name] = aurc(doubt, wrong)
        ax.plot(coverage, risk, label=f"{name} (AURC {areas[name]:.3f})")
        tables[name] = chow_table(probs, labels, costs)
    ax.set_xlabel("coverage (share of decisions answered, most confident first)")
    ax.set_ylabel("risk (error rate of the answered)")
    ax.set_title("Risk–coverage, every known (image, class) decision")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    section.figures["Risk–coverage curves"] = fig
    combined = pd.concat(tables, axis=1)
    section.tables["Chow's rule at a few deferral costs"] = combined
    model = tables["model"]
    n = int((~np.isnan(labels)).sum())
    section.findings.append(
        f"Over {n:,} known decisions the model's AURC is {areas['model']:.3f}; answering only where "
        f"min(p, 1 − p) ≤ 0.1 keeps {model.loc['c = 0.1', 'coverage']:.1%} of them at an accuracy of "
        f"{model.loc['c = 0.1', 'kept accuracy']:.3f}."
        if "c = 0.1" in model.index
        else f"Over {n:,} known decisions the model's AURC is {areas['model']:.3f}."
    )
    if "last-layer Laplace" in areas:
        laplace = areas["last-layer Laplace"]
        diff = round(laplace, 3) - round(areas["model"], 3)
        change = (
            "leaves the AURC unchanged at three decimals"
            if diff == 0
            else (f"{'lowers' if diff < 0 else 'raises'} the AURC by {abs(diff):.3f}")
        )
        section.findings.append(f"Ordering by the Laplace predictive {change} ({laplace:.3f}).")
    section.data = {"aurc": areas, "chow": {name: t.to_dict(orient="index") for name, t in tables.items()}}
    return section
