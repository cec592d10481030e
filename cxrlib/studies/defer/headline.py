"""Study 07: the headline numbers (the JSON the scorecard and the book read)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...defer import (
    Rule,
)
from ..common import mean_ci
from .result import AT_COLUMNS
from .settings import BALANCE_KEYS, COVERAGES, SWEEP_COSTS

if TYPE_CHECKING:
    from .result import DeferResult


def _key(column: str) -> str:
    return column.replace(" ", "_").replace("-", "_").replace("(", "").replace(")", "")


__all__ = ["headline"]


# ------------------------------------------------------------------------------------------------
# headline numbers and the discussion written from them
# ------------------------------------------------------------------------------------------------
def _units(result: DeferResult) -> dict:
    """The error model per image and per finding at the headline cost: each column's mean over seeds."""
    frame = pd.concat([r.units for r in result.runs])
    means = frame.groupby(level=0).mean()
    return {unit: {_key(column): float(means.loc[unit, column]) for column in means.columns} for unit in means.index}


def _sweep_curve(result: DeferResult, rule: str) -> dict[str, list]:
    """Pooled as the run defers (every image, or every decision), per cost of the sweep: coverage (mean
    over seeds, 0 where a seed kept nothing) and kept accuracy (mean over the seeds that kept something;
    None where none did)."""
    costs, coverage, kept = [], [], []
    for cost in SWEEP_COSTS:
        cov = result.seed_values(rule, cost, "coverage")
        acc = result.seed_values(rule, cost, "kept accuracy")
        costs.append(cost)
        coverage.append(float(cov.mean()))
        kept.append(float(np.nanmean(acc)) if np.isfinite(acc).any() else None)
    return {"cost": costs, "coverage": coverage, "kept_accuracy": kept}


def _rule_headline(result: DeferResult, rule: str) -> dict:
    c = result.settings.cost
    per_class = result._per_class()
    per_seed = per_class[per_class["rule"] == rule].groupby("seed").mean(numeric_only=True)
    out = {"label": result.label(rule)}
    for column in AT_COLUMNS:
        values = result.seed_values(rule, c, column)
        mean, half = mean_ci(values) if np.isfinite(values).any() else (None, None)
        out[f"{_key(column)}_at_c"], out[f"{_key(column)}_at_c_ci95"] = mean, half
    for column, key in (
        ("AURC", "aurc"),
        ("mistake AUROC", "mistake_auroc"),
        ("model accuracy", "accuracy_no_deferral"),
    ):
        out[key], out[f"{key}_ci95"] = mean_ci(per_seed[column].to_numpy())
    out["accuracy_at_coverage"] = {
        f"{round(100 * q)}": mean_ci(per_seed[f"accuracy at {q:g}"].to_numpy())[0] for q in COVERAGES
    }
    out["sweep"] = _sweep_curve(result, rule)
    return out


def _beats_no_deferral(result: DeferResult) -> dict:
    """Whether the error model's kept accuracy (mean over seeds) beats the classifier's accuracy without
    deferral at every cost of the sweep whose mean coverage is below 1 (and above 0)."""
    full = float(result.no_deferral().loc[result.pooled, "classifier accuracy"])
    curve = _sweep_curve(result, Rule.ERROR_MODEL.value)
    points = [
        (cost, cov, acc)
        for cost, cov, acc in zip(curve["cost"], curve["coverage"], curve["kept_accuracy"], strict=True)
        if acc is not None and cov < 1.0
    ]
    gains = [acc - full for _, _, acc in points]
    worst = int(np.argmin(gains)) if gains else None
    return {
        "accuracy_no_deferral": full,
        "costs_with_coverage_below_1": len(points),
        "at_every_coverage_below_1": bool(points) and min(gains) > 0,
        "smallest_gain": min(gains) if gains else None,
        "smallest_gain_at_cost": points[worst][0] if gains else None,
        "smallest_gain_at_coverage": points[worst][1] if gains else None,
        "failing_costs": [cost for (cost, _, _), g in zip(points, gains, strict=True) if g <= 0],
    }


def _matched(result: DeferResult, other: str) -> list[dict]:
    table = result.matched_coverage(other)
    return [
        {"coverage": q, "difference": float(row["difference"]), "difference_ci95": float(row["difference ±95%"])}
        for q, row in table.iterrows()
    ]


def _paired_balance(result: DeferResult, column: str) -> dict | None:
    """``column`` of the balanced error model minus the unbalanced one, paired over seeds (None when
    balancing was impossible)."""
    if "balanced" not in result.balance_variants:
        return None
    diff = [r.balance.loc["balanced", column] - r.balance.loc["unbalanced", column] for r in result.runs]
    mean, half = mean_ci(diff)
    return {"difference": mean, "ci95": half}


def headline(result: DeferResult) -> dict:
    s = result.settings
    nd = result.no_deferral()
    balance = pd.concat([r.balance for r in result.runs]).groupby(level=0).mean()
    variants = result.balance_variants
    weak_rules = {}
    for rule in result.rule_names:
        usual, weak = result._at(rule, s.cost, s.weak_class), result._at(rule, s.cost, s.weak_class, weak=True)
        weak_rules[rule] = {
            "coverage_at_c": usual["coverage"][0],
            "system_accuracy_at_c": usual["system accuracy"][0],
            "coverage_at_c_weak": weak["coverage"][0],
            "system_accuracy_at_c_weak": weak["system accuracy"][0],
            "system_accuracy_at_c_weak_ci95": weak["system accuracy"][1],
        }
        for key, clinician in (("", False), ("_weak", True)):
            gain = result.seed_values(rule, s.cost, "system accuracy", s.weak_class, clinician) - result.seed_values(
                rule, s.cost, "model accuracy", s.weak_class, clinician
            )
            weak_rules[rule][f"gain_over_no_deferral{key}"], weak_rules[rule][f"gain_over_no_deferral{key}_ci95"] = (
                mean_ci(gain)
            )
    others = [
        r for r in (Rule.CONFIDENCE.value, Rule.SURROGATE.value, Rule.ERROR_MODEL_PROBS.value) if r in result.rule_names
    ]
    return {
        "run": result.run,
        "profile": s.profile,
        "classes": result.classes,
        "cost": s.cost,
        "unit": s.unit,
        "accuracy_no_deferral": float(nd.loc[result.pooled, "classifier accuracy"]),
        "clinician_accuracy": float(nd.loc[result.pooled, "clinician accuracy"]),
        "decision_accuracy_no_deferral": float(nd.loc["all", "classifier accuracy"]),
        "image_accuracy_no_deferral": float(nd.loc["images", "classifier accuracy"]),
        "auroc_no_deferral": float(nd.loc["all", "classifier AUROC"]),
        "per_class_auroc_no_deferral": {c: float(nd.loc[c, "classifier AUROC"]) for c in result.classes},
        "sensitivity_no_deferral": float(nd.loc["all", "classifier sensitivity"]),
        "clinician_sensitivity": float(nd.loc["all", "clinician sensitivity"]),
        "per_class_accuracy_no_deferral": {c: float(nd.loc[c, "classifier accuracy"]) for c in result.classes},
        "per_class_clinician_accuracy": {c: float(nd.loc[c, "clinician accuracy"]) for c in result.classes},
        "error_split_mistakes": {
            c: float(np.mean([r.error_split_mistakes[c] for r in result.runs])) for c in result.classes
        },
        "rules": {rule: _rule_headline(result, rule) for rule in result.rule_names},
        "unit_comparison": _units(result),
        "error_model_vs_no_deferral": _beats_no_deferral(result),
        "error_model_vs": {other: _matched(result, other) for other in others},
        "balance": {
            variant.replace(", ", "_").replace(" ", "_").replace("-", "_"): {
                key: float(balance.loc[variant, column]) for column, key in BALANCE_KEYS.items()
            }
            for variant in variants
        },
        "balance_aurc_difference": _paired_balance(result, "AURC"),
        "balance_mistake_auroc_difference": _paired_balance(result, "mistake AUROC"),
        "weak_clinician": {
            "class": s.weak_class,
            "sensitivity": s.weak_sensitivity,
            "specificity": s.weak_specificity,
            "clinician_accuracy": float(nd.loc[s.weak_class, "weak clinician accuracy"]),
            "usual_clinician_accuracy": float(nd.loc[s.weak_class, "clinician accuracy"]),
            "classifier_accuracy": float(nd.loc[s.weak_class, "classifier accuracy"]),
            "rules": weak_rules,
        },
    }
