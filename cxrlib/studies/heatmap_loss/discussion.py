"""Study 03: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...stats import GroupComparison
from ..prose import fmt, p_value
from .settings import ARMS, CCE_ARM, SCORES

if TYPE_CHECKING:
    from .result import HeatmapLossResult

__all__ = ["heatmap_loss_discussion"]


def _sentence(c: GroupComparison | None, score: str, control: str = "without") -> str:
    """One score's test of the heatmap loss against a control arm (``control``: how it is named)."""
    score = score[:1].upper() + score[1:]
    if c is None:
        return f"{score}: an arm has no kept model, so there is no test."
    if c.significant:
        direction = "higher" if c.median_a > c.median_b else "lower"
        return (
            f"{score} was {direction} with the loss (median {fmt(c.median_a)} vs {fmt(c.median_b)} {control}; "
            f"Mann–Whitney p = {p_value(c.p)}, rank-biserial {c.rank_biserial:+.2f})."
        )
    return (
        f"{score} could not be told apart between the arms (median {fmt(c.median_a)} with the loss vs "
        f"{fmt(c.median_b)} {control}; p = {p_value(c.p)}, rank-biserial {c.rank_biserial:+.2f})."
    )


def _normality(comparisons: list[GroupComparison]) -> str:
    rejected = [c for c in comparisons if not c.normal]
    if rejected:
        return (
            f"Shapiro–Wilk rejected normality for at least one group in {len(rejected)} of {len(comparisons)} "
            "comparisons, which is why the rank test is used."
        )
    return (
        "Shapiro–Wilk rejected normality for no group (with groups this small it has little power); the rank "
        "test is used throughout, as in the source."
    )


def heatmap_loss_discussion(result: HeatmapLossResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s = result.settings
    lines = []
    titles = {
        "1": "**Experiment 1** (SynthCMR with sex-related size differences).",
        "2": "**Experiment 2** (no size differences, a marker in the corner of every male image).",
        "3": f"**Experiment 3** (SynthCXR; a corner marker agreeing with {s.shortcut_class} in "
        f"{s.shortcut_rate:.0%} of training images).",
    }
    for experiment in s.experiments:
        table = result.table(experiment)
        parts = [titles[experiment]]
        if experiment in ("1", "2"):
            dropped = {arm: int((~table.loc[table["arm"] == arm, "kept"]).sum()) for arm in table["arm"].unique()}
            cce = f", {dropped[CCE_ARM]} of the CCE control" if CCE_ARM in dropped else ""
            parts.append(
                f"Of {s.group_size} models per arm, {dropped['none']} with w = 0{cce} and {dropped['heatmap loss']} "
                f"with the loss stayed under {s.accuracy_threshold:.0%} validation accuracy and were discarded."
            )
        comparisons = {score: result.comparison(experiment, score) for score in SCORES[experiment]}
        known = [c for c in comparisons.values() if c is not None]
        if known:
            parts.append(f"Kept models compared: {known[0].n_b} with w = 0, {known[0].n_a} with the loss.")
        parts += [_sentence(c, score, "with w = 0") for score, c in comparisons.items()]
        if CCE_ARM in result.controls(experiment):
            against = [
                _sentence(result.comparison(experiment, score, CCE_ARM), score, "with CCE")
                for score in SCORES[experiment]
            ]
            parts.append("Against the source's control, the CCE model: " + " ".join(against))
        if experiment in ("1", "2"):
            kept = table[table["kept"]].groupby("arm")["flat maps"].mean()
            if set(ARMS) <= set(kept.index):
                parts.append(
                    f"On average {fmt(kept['none'], 2)} of a model's test maps were flat (no positive HiResCAM "
                    f"anywhere; scored 0 inside the heart) without the loss and {fmt(kept['heatmap loss'], 2)} with "
                    "it. A flat map costs the fraction form of the loss its maximum but gives it no gradient (the "
                    "ReLU is zero everywhere), so training cannot pull it back towards the heart."
                )
        chance = result.examples.get(experiment, {}).get("chance", {})
        if chance:
            parts.append(
                "For scale, a uniform map would score "
                + " and ".join(f"{fmt(v)} on {k}" for k, v in chance.items() if np.isfinite(v))
                + " (the region's share of the image)."
            )
        if known:
            parts.append(_normality(known))
        if experiment == "3":
            parts.append(_shortcut_verdict(result, comparisons))
        lines.append(" ".join(parts))
    return "\n\n".join(lines)


def _shortcut_verdict(result: HeatmapLossResult, comparisons: dict) -> str:
    s = result.settings
    kept = result.table("3")
    kept = kept[kept["kept"]]
    means = kept.groupby("arm")[["shortcut AUROC (no marker)", "shortcut AUROC (inverted)", "map on marker"]].mean()
    if not set(ARMS) <= set(means.index):
        return ""
    none, loss = means.loc["none"], means.loc["heatmap loss"]
    text = (
        f"On average {s.shortcut_class} AUROC went from {fmt(none.iloc[0])} on the marker-free test set to "
        f"{fmt(none.iloc[1])} on the inverted one without the loss, and from {fmt(loss.iloc[0])} to "
        f"{fmt(loss.iloc[1])} with it; the share of the class's map on the marker was {fmt(none.iloc[2])} "
        f"without and {fmt(loss.iloc[2])} with the loss. "
    )
    inverted, on_marker = comparisons.get("shortcut AUROC (inverted)"), comparisons.get("map on marker")
    uses_less = inverted is not None and inverted.significant and inverted.median_a > inverted.median_b
    moved = on_marker is not None and on_marker.significant and on_marker.median_a < on_marker.median_b
    if uses_less:
        return text + "The loss made the models measurably less dependent on the shortcut."
    if moved:
        return text + (
            "The loss moved the map off the marker, but the models still follow the marker when it is inverted: "
            "the map no longer shows the shortcut, yet the decision still uses it. One way this can happen: the "
            "features at a position inside the thorax see the corner through their receptive field, so the "
            "evidence is reported where the loss allows it."
        )
    return text + "These groups show no evidence that the loss changed how much the models rely on the marker."
