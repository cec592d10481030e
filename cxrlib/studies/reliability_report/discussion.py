"""Study 10: the discussion, generated from the numbers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import ReliabilityResult

__all__ = ["reliability_discussion"]


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _auroc(n: dict[str, Any]) -> str:
    if math.isnan(n["mean_auroc_low"]):
        return f"{n['mean_auroc']:.3f}"
    return f"{n['mean_auroc']:.3f} (95 % interval {n['mean_auroc_low']:.3f}–{n['mean_auroc_high']:.3f})"


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "−")


def _discrimination(test: dict, nih: dict | None, dataset: str, synthetic: bool) -> list[str]:
    if math.isnan(test["mean_auroc"]):
        return []
    lines = [
        f"**Discrimination.** On the {dataset} test split ({test['images']:,} images of {test['patients']:,} "
        f"patients) the mean AUROC over {_plural(test['classes_scored'], 'class', 'classes')} is {_auroc(test)}."
    ]
    if nih is None or math.isnan(nih["mean_auroc"]):
        return lines
    sentence = (
        f"On the {nih['images']} real NIH images it is {_auroc(nih)}, over "
        f"{_plural(nih['classes_scored'], 'class', 'classes')}"
    )
    if nih["classes_unscored"]:
        verb = "has" if len(nih["classes_unscored"]) == 1 else "have"
        sentence += f" ({', '.join(nih['classes_unscored'])} {verb} no positive or no negative image there)"
    lines.append(sentence + ".")
    if nih["mean_auroc_low"] <= 0.5 <= nih["mean_auroc_high"]:
        lines.append(
            "That interval includes 0.5: on these images the model cannot be told apart from a coin, and "
            f"{nih['patients']} patients are far too few to say more than that."
        )
    chance = nih["classes_with_chance_in_interval"]
    if chance:
        subject = (
            f"The intervals of {len(chance)} of its {nih['classes_scored']} classes include"
            if len(chance) > 1
            else f"The interval of one of its {_plural(nih['classes_scored'], 'class', 'classes')} includes"
        )
        lines.append(f"{subject} 0.5 ({', '.join(chance)}).")
    same_classes = test["classes_scored"] == nih["classes_scored"] and not nih["classes_unscored"]
    if same_classes and nih["mean_auroc_high"] < test["mean_auroc_low"]:
        trained_on = "synthetic images" if synthetic else f"{dataset}"
        lines.append(
            f"The mean is lower on the real images than on the test split, and the two intervals do not overlap: "
            f"the model, trained on {trained_on}, ranks the NIH images worse than its own test split, which a report "
            "on the data it was trained on alone cannot show."
        )
    return lines


def _calibration(test: dict, nih: dict | None) -> list[str]:
    if math.isnan(test["ece_model"]):
        return []
    line = f"**Calibration.** As it is, the model's pooled ECE on the test split is {test['ece_model']:.3f}"
    fitted = _plural(test["recalibrations"], "recalibration")
    if test["recalibrations"] and test["ece_best_method"] != "model":
        line += (
            f"; {test['ece_best_method']}, fitted on the validation split, brings it to {test['ece_best']:.3f} "
            f"({_signed(test['ece_best'] - test['ece_model'])}), the lowest of the {fitted}"
        )
    elif test["recalibrations"]:
        line += f"; none of the {fitted} lowers it"
    lines = [line + "."]
    if nih is not None and not math.isnan(nih["ece_model"]):
        lines.append(
            f"On the NIH images the ECE is {nih['ece_model']:.3f}. They come without a validation split of real "
            "images, so no recalibration was fitted there."
        )
    return lines


def _localization(test: dict, nih: dict | None, chance: float | None) -> list[str]:
    if math.isnan(test["point_localization"]):
        return []
    line = (
        f"**Localisation.** The class map's peak lies in a truth box for {test['point_localization']:.1%} of "
        f"{int(test['localized_pairs']):,} boxed (image, class) pairs of the test split"
    )
    if chance is not None and not math.isnan(chance) and chance > 0:
        ratio = test["point_localization"] / chance
        line += f", against {chance:.1%} for a peak drawn at random ({ratio:.1f}× chance)"
    lines = [line + "."]
    if nih is not None and not math.isnan(nih["point_localization"]):
        pairs = int(nih["localized_pairs"])
        lines.append(
            f"On the NIH images the peak lies in a box for {nih['point_localization']:.0%} of "
            f"{_plural(pairs, 'boxed pair')}" + (": too few to read as a rate." if pairs < 20 else ".")
        )
    return lines


def _selective(test: dict) -> list[str]:
    if math.isnan(test["aurc_model"]):
        return []
    line = f"**Selective prediction.** The model's area under the risk–coverage curve is {test['aurc_model']:.3f}"
    if not math.isnan(test["aurc_laplace"]):
        diff = round(test["aurc_laplace"], 3) - round(test["aurc_model"], 3)
        if diff == 0:
            line += "; ordering the decisions by the Laplace predictive leaves it unchanged at three decimals"
        else:
            line += (
                f"; ordering the decisions by the Laplace predictive {'lowers' if diff < 0 else 'raises'} it to "
                f"{test['aurc_laplace']:.3f}"
            )
    return [line + " (lower is better: fewer errors among the decisions answered first)."]


def _subgroups(test: dict) -> list[str]:
    gap = test.get("subgroup_gap")
    if not gap:
        return []
    line = (
        f"**Subgroups.** The largest gap in mean AUROC is by {gap['attribute']}: {gap['gap']:.3f} between "
        f"{gap['highest']} and {gap['lowest']}"
    )
    low, high = gap.get("gap_low", math.nan), gap.get("gap_high", math.nan)
    if low is None or high is None or math.isnan(low):
        return [line + "."]
    line += f" (95 % interval of the difference {low:.3f} to {high:.3f})"
    if low <= 0 <= high:
        line += ": the interval includes 0, so this run does not establish a gap"
    else:
        line += ": the interval excludes 0, a gap that resampling the patients does not remove"
    return [line + "."]


def _shortcut(test: dict) -> list[str]:
    lines = []
    for key, where in (("outside_thorax", "outside the thorax"), ("marker", "on the planted marker")):
        share, chance = test[f"{key}_share"], test[f"{key}_chance"]
        if math.isnan(share):
            continue
        ratio = round(share / chance, 2) if chance > 0 else math.inf
        verdict = "about as much as" if 0.9 <= ratio <= 1.1 else ("more than" if ratio > 1.1 else "less than")
        lines.append(
            f"{share:.1%} of the map mass of the positive findings lies {where}: {verdict} the {chance:.1%} a "
            f"uniform map would put there ({ratio:.2f}×)"
        )
    if not lines:
        return []
    return [
        "**Shortcut probe.** "
        + "; ".join(lines)
        + ". The probe is one run without an interval: read a ratio within 10 % of 1 as no difference."
    ]


def reliability_discussion(result: ReliabilityResult) -> str:
    """A paragraph per section, generated from ``result`` so the text cannot contradict the tables."""
    numbers = result.numbers()
    test, nih = numbers["test split"], numbers.get("NIH sample")
    section = result.reports["test split"]["localization"]
    chance = None
    if section.available:
        chance = section.data["table"].get("weighted", {}).get("box share of the image (chance)")
    synthetic = result.settings.dataset == "synth-cxr"
    paragraphs = [
        f"**The model.** {result.settings.backbone} as notebook 01 trains it, {result.model_source}.",
        " ".join(_discrimination(test, nih, result.dataset_name, synthetic)),
        " ".join(_calibration(test, nih)),
        " ".join(_localization(test, nih, chance)),
        " ".join(_selective(test)),
        " ".join(_subgroups(test)),
        " ".join(_shortcut(test)),
    ]
    absent = result.absent_sections()
    if len(absent):
        parts = [f"{section} on the {report} ({why})" for (report, section), why in absent["why it is absent"].items()]
        paragraphs.append("**Not computed:** " + "; ".join(parts) + ".")
    if nih is None:
        paragraphs.append(f"**The NIH sample** was not reported on: {result.nih_note}.")
    return "\n\n".join(p for p in paragraphs if p)
