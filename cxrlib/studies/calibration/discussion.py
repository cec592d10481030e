"""Study 05: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...scorecard import DECIMALS
from .. import imbalance_losses as imb
from ..prose import fmt, join

if TYPE_CHECKING:
    from .result import CalibrationResult

__all__ = ["TEMPERATURE_BOUNDS", "calibration_discussion", "mimo_against_members"]


#: the range in which temperatures are searched (fit_temperature's default)
TEMPERATURE_BOUNDS = (0.01, 100.0)


def _below(a: float, b: float) -> bool:
    """``a < b`` as the tables print them (to :data:`~cxrlib.scorecard.DECIMALS` places), so that the text
    never calls lower what the table shows as equal."""
    return round(float(a), DECIMALS) < round(float(b), DECIMALS)


def _beats_every_member(value: float, member_values: list[float], higher_is_better: bool) -> bool:
    """Whether one MIMO value is better than every single model's (as the tables print them): one MIMO
    model against a few single models has no interval, so "better" needs it outside their whole range."""
    if not member_values:
        return False
    return all(_below(m, value) if higher_is_better else _below(value, m) for m in member_values)


def mimo_against_members(mimo_row, members: dict[str, list[float]]) -> str:
    """The MIMO model against the single models metric by metric: better than every one of them, worse
    than every one, or within their range (cannot be told apart from them with one MIMO model)."""
    said = []
    for metric, higher_is_better in (("mean AUROC", True), ("NLL", False), ("ECE", False)):
        values, value = members.get(metric) or [], float(mimo_row[metric])
        if not values:
            continue
        span = f"{fmt(min(values))}–{fmt(max(values))}"
        if _beats_every_member(value, values, higher_is_better):
            said.append(f"its {metric} {fmt(value)} was better than every single model's ({span})")
        elif all(_below(v, value) if not higher_is_better else _below(value, v) for v in values):
            said.append(f"its {metric} {fmt(value)} was worse than every single model's ({span})")
        else:
            said.append(f"its {metric} {fmt(value)} lay within the single models' {span}: not told apart")
    if not said:
        return "MIMO is one model, so without the single models' spread it is not compared with them."
    return "Against the single models (one MIMO model, so their range is the yardstick): " + "; ".join(said) + "."


def _at_upper_bound(result: CalibrationResult) -> dict[str, int]:
    """Per loss, how many seeds' global temperature lies at the top of the search range."""
    return {
        label: sum(
            float(t["global"]) >= 0.99 * TEMPERATURE_BOUNDS[1]
            for (lab, _), t in result.temperatures.items()
            if lab == label
        )
        for label in result.labels
    }


def calibration_discussion(result: CalibrationResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s = result.settings
    lines = []
    table = result.table_4_3()
    test = result.side_by_side("test")
    val = result.side_by_side("val")
    n_seeds = len(s.seeds)
    lines.append(
        f"**Where the logits come from.** The {len(result.runs)} models' logits ({len(result.labels)} losses × "
        f"{n_seeds} seeds, {s.backbone} on {s.dataset}) were {result.logits_source}."
    )
    before, after = table["ECE before"], table["ECE after (global T)"]
    lowered = [label for label in table.index if _below(after[label], before[label])]
    raised = [label for label in table.index if label not in lowered]
    text = (
        "**Table 4.3.** Mean test ECE-15 before → after one temperature per model: "
        + ", ".join(f"{table.loc[label, 'before → after']} for {label}" for label in table.index)
        + " (means over seeds of the mean over classes). "
    )
    if lowered and not raised:
        text += "Temperature scaling lowered the ECE of every loss, as in the source. "
    else:
        if lowered:
            text += f"It lowered the ECE of {join(lowered)}; "
        text += (
            f"it did not lower it for {join(raised)}, unlike the source, where all three fell. "
            "A temperature is fitted by NLL on the validation split, not by ECE on the test split: it makes the "
            "probabilities sharper or softer, but cannot move a class's base rate. "
        )
    worst = before.idxmax()
    text += (
        f"Before scaling the least calibrated was {worst} ({fmt(before[worst])}; in the source DeepAUC, 0.2348), "
        f"after it the spread between losses was {fmt(after.max() - after.min())} "
        f"(before: {fmt(before.max() - before.min())}; the source: 0.120 before, 0.010 after)."
    )
    lines.append(text)
    ce = imb.LOSS_LABELS[imb.Loss.WBCE.value]
    if ce in result.labels:
        gap_before = test.loc[(ce, "before"), "mean p − rate"]
        gap_after = test.loc[(ce, "global T"), "mean p − rate"]
        if gap_before > 0.05:
            lines.append(
                "**Why CE is hard to fix.** The weighted BCE's mean predicted probability lay "
                f"{fmt(gap_before)} above the positive rate (mean over classes) before scaling and "
                f"{fmt(gap_after)} after. Its positive weight (negatives per positive) makes 0.5 the best constant "
                "prediction for every class: it shifts each logit by the log of that weight. A temperature has no "
                "offset to undo a shift; an offset per class (Platt scaling) could, or training without the weight."
            )
    temps = result.temperature_table()
    t_global, per_t = temps["global T"], temps[result.classes]
    direction = [
        f"{label} T = {t_global[label]:.2f} "
        + ("(over-confident: softened)" if t_global[label] > 1 else "(under-confident: sharpened)")
        for label in t_global.index
    ]
    per_class = table["ECE after (per-class T)"]
    better = [label for label in table.index if _below(per_class[label], after[label])]
    lines.append(
        "**Global vs per-class temperature.** Fitted global temperatures (means over seeds): "
        + "; ".join(direction)
        + ". "
        + "".join(
            f"For {label}, {n} of {len(s.seeds)} fitted global temperatures sat at the top of the search range "
            f"(T = {TEMPERATURE_BOUNDS[1]:g}): probabilities flattened towards 0.5 gave the lowest validation NLL. "
            for label, n in _at_upper_bound(result).items()
            if n
        )
        + "Per class, the temperatures of "
        + ", ".join(
            f"{label} ranged from {per_t.loc[label].min():.2f} to {per_t.loc[label].max():.2f}" for label in per_t.index
        )
        + ". One temperature per class "
        + (
            f"gave a lower test ECE than one global temperature for {join(better)}"
            + (f" but not for {join(x for x in table.index if x not in better)}" if len(better) < len(table) else "")
            if better
            else "did not lower the test ECE below the global temperature's for any loss"
        )
        + ". On the validation split, where both were fitted, per-class temperatures can only lower the NLL "
        "below the global one's (each class's own NLL is minimised): "
        + ", ".join(
            f"{fmt(val.loc[(label, 'global T'), 'NLL'])} → {fmt(val.loc[(label, 'per-class T'), 'NLL'])} for {label}"
            for label in result.labels
        )
        + "."
    )
    agree = []
    for metric in ("adaptive ECE", "NLL", "Brier"):
        improved = [
            label
            for label in result.labels
            if _below(test.loc[(label, "global T"), metric], test.loc[(label, "before"), metric])
        ]
        agree.append(f"{metric} fell for {join(improved) if improved else 'no loss'}")
    rank_before = test.xs("before", level="stage")["NLL"].sort_values()
    auroc_change = float(
        np.max(np.abs(test.xs("global T", level="stage")["AUROC"] - test.xs("before", level="stage")["AUROC"]))
    )
    lines.append(
        "**Other calibration measures (test).** Under the global temperature "
        + "; ".join(agree)
        + f". By test NLL before scaling the losses rank {', '.join(rank_before.index)} (best first). "
        + (
            "Mean AUROC did not change"
            if auroc_change < 1e-12
            else f"Mean AUROC moved by at most {auroc_change:.1e} (rounding)"
        )
        + ": a positive temperature keeps every class's ranking."
    )
    mimo = result.mimo
    if mimo is not None and len(mimo) == 3:
        single, ensemble, mimo_row = mimo.index
        text = (
            f"**MIMO.** Mean test AUROC {fmt(mimo.loc[single, 'mean AUROC'])} for a {single}, "
            f"{fmt(mimo.loc[ensemble, 'mean AUROC'])} for the {ensemble}, {fmt(mimo.loc[mimo_row, 'mean AUROC'])} "
            f"for {mimo_row}; NLL {fmt(mimo.loc[single, 'NLL'])}, {fmt(mimo.loc[ensemble, 'NLL'])} and "
            f"{fmt(mimo.loc[mimo_row, 'NLL'])}; ECE-15 {fmt(mimo.loc[single, 'ECE'])}, "
            f"{fmt(mimo.loc[ensemble, 'ECE'])} and {fmt(mimo.loc[mimo_row, 'ECE'])}. "
        )
        aurocs = result.mimo_info.get("member_aurocs", [])
        if aurocs:
            text += (
                f"These are one MIMO model (seed {result.mimo_info.get('mimo_seed')}) and one ensemble; the "
                f"{len(aurocs)} single models' own mean AUROCs ranged from {fmt(min(aurocs))} to {fmt(max(aurocs))}. "
            )
        members = {
            "mean AUROC": result.mimo_info.get("member_aurocs", []),
            "NLL": result.mimo_info.get("member_nlls", []),
            "ECE": result.mimo_info.get("member_eces", []),
        }
        text += mimo_against_members(mimo.loc[mimo_row], members)
        ens_better = _below(mimo.loc[ensemble, "NLL"], mimo.loc[mimo_row, "NLL"])
        ratio = float(mimo.loc[mimo_row, "time ÷ single"])
        cost = (
            f"about a single model's wall time (measured {fmt(ratio, 2)}×; a MIMO network is one network with an "
            "M-channel stem and M heads, so a ratio near or below 1 is timing noise)"
            if ratio < 1.1
            else f"{fmt(ratio, 2)}× a single model's wall time"
        )
        text += (
            f" The ensemble's NLL was {'lower' if ens_better else 'not lower'} than MIMO's. "
            f"At test time MIMO costs one forward pass per image, {cost} "
            f"({fmt(mimo.loc[mimo_row, 'ms / image'], 3)} ms per image here), the ensemble "
            f"{int(mimo.loc[ensemble, 'forward passes / image'])} passes and "
            f"{fmt(mimo.loc[ensemble, 'time ÷ single'], 2)}×. Training took {mimo.loc[mimo_row, 'training s']:.0f} s "
            f"for MIMO, {mimo.loc[single, 'training s']:.0f} s per single model and "
            f"{mimo.loc[ensemble, 'training s']:.0f} s for the ensemble"
            + (
                " (the single models' times are those of 04's run, on a machine that may have been busier or idler)."
                if result.loaded
                else "."
            )
        )
        if not _beats_every_member(float(mimo.loc[mimo_row, "NLL"]), members["NLL"], higher_is_better=False):
            text += (
                " Havasi et al. report better NLL than a single model at the same test cost for wide networks; "
                "this MIMO, one network of "
                f"{int(mimo.loc[mimo_row, 'parameters']):,} parameters trained for at most {s.epochs} epochs, "
                "did not get there."
            )
        lines.append(text)
    return "\n\n".join(lines)
