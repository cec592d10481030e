"""Study 02: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..prose import fmt, with_ci
from .settings import Arm, coherence_label

if TYPE_CHECKING:
    from .result import SaliencyLossResult

__all__ = ["saliency_loss_discussion", "absolute_level_sentence", "coherence_sentence", "SOURCE_MEAN_AUROC"]


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two mean ± half-width intervals overlap (True when either has no interval)."""
    if not (np.isfinite(a[1]) and np.isfinite(b[1])):
        return True
    return abs(a[0] - b[0]) <= a[1] + b[1]


#: the source's mean validation AUROC per arm (Sharma and Pradeep P. 2023, Table 4.1; DenseNet-121 on CheXpert)
SOURCE_MEAN_AUROC = {"CE": 0.756, "Custom": 0.745, "Modified": 0.749}


def absolute_level_sentence(ours: list[float]) -> str:
    """Where our arms' mean AUROCs lie against the source's, in words that follow the numbers."""
    lo, hi = min(SOURCE_MEAN_AUROC.values()), max(SOURCE_MEAN_AUROC.values())
    ours = [v for v in ours if np.isfinite(v)]
    if not ours:
        return "No arm has a mean AUROC to set beside the source's."
    a, b = min(ours), max(ours)
    where = "above" if a > hi else "below" if b < lo else "around"
    return (
        f"**Absolute level.** Our arms' mean test AUROCs ({fmt(a)}–{fmt(b)}) lie {where} the source's "
        f"{fmt(lo)}–{fmt(hi)} on CheXpert validation. The levels are not comparable (synthetic images, "
        "another backbone and image size, test rather than validation split); what carries over is the "
        "comparison between arms trained on the same data with the same seeds."
    )


def saliency_loss_discussion(result: SaliencyLossResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s, summary, run = result.settings, result.summary(), result.run
    n_seeds = len(s.seeds)
    lines = []
    ce_label = next((r.label for r in result.runs if r.arm == Arm.CE.value), None)
    auc = {label: (summary.loc[label, "mean AUROC"], summary.loc[label, "mean AUROC ±95%"]) for label in summary.index}
    lines.append(
        f"**Discrimination (Table 4.1).** {s.backbone} on {s.dataset} at {s.image_size} px "
        f"({run.get('n_train', '?')} training images, at most {s.epochs} epochs, {n_seeds} seed(s)): mean test AUROC "
        + ", ".join(f"{with_ci(*v)} for {label}" for label, v in auc.items())
        + (" (mean ± 95% half-width over seeds)." if n_seeds > 1 else " (one seed: no interval).")
    )
    if ce_label is not None:
        others = [label for label in auc if label != ce_label]
        same = [label for label in others if _overlap(auc[label], auc[ce_label])]
        lower = [label for label in others if label not in same and auc[label][0] < auc[ce_label][0]]
        higher = [label for label in others if label not in same and auc[label][0] > auc[ce_label][0]]
        parts = []
        if same:
            parts.append(f"{', '.join(same)} cannot be told apart from CE at this number of seeds")
        if lower:
            parts.append(f"{', '.join(lower)} ranked the test images worse than CE")
        if higher:
            parts.append(f"{', '.join(higher)} ranked them better than CE")
        sentence = "; ".join(parts)
        lines.append(
            sentence[:1].upper() + sentence[1:] + ". The source's three arms lay within 0.011 AUROC of each "
            "other (CE 0.756, Custom 0.745, Modified 0.749 on CheXpert validation, one run each): the loss did not "
            "buy discrimination there either; the question it leaves open is what the loss does to the maps."
        )
    lines.append(absolute_level_sentence([v[0] for v in auc.values()]))
    cd = {label: (summary.loc[label, "L_CD (test)"], summary.loc[label, "L_CD (test) ±95%"]) for label in summary.index}
    if ce_label is not None:
        better = [label for label in cd if label != ce_label and cd[label][0] < cd[ce_label][0]]
        lines.append(
            "**Do the maps become more distinct?** The class-distinctiveness value on the test set (mean cosine "
            "between the classes' map-weighted feature vectors; 0 is fully distinct) was "
            + ", ".join(f"{with_ci(*v)} for {label}" for label, v in cd.items())
            + ". "
            + (
                f"{', '.join(better)} lowered it below CE's"
                + (
                    ", by more than the seed-to-seed spread."
                    if all(not _overlap(cd[label], cd[ce_label]) for label in better)
                    else ", though not beyond the seed-to-seed spread for every arm."
                )
                if better
                else "No arm lowered it below CE's: on these data the loss did not make the maps more distinct."
            )
        )
        flat = summary["flat maps"]
        mass = summary["map mass"]
        lines.append(
            "Vanishing maps are not a way out here: a map with no mass gets the average feature vector as its latent, "
            "so all-zero maps are as *similar* as maps can be. The share of flat test maps was "
            + ", ".join(f"{fmt(flat[label], 2)} for {label}" for label in flat.index)
            + ", and the mean map mass "
            + ", ".join(f"{fmt(mass[label], 3)} for {label}" for label in mass.index)
            + "."
        )
    loc = summary["point loc. acc."]
    chance = summary["mass in mask ×chance"]
    lines.append(
        "**Localisation.** Weighted point localisation accuracy was "
        + ", ".join(
            f"{with_ci(loc[label], summary.loc[label, 'point loc. acc. ±95%'])} for {label}" for label in loc.index
        )
        + "; the Grad-CAM mass inside the finding's mask, as a multiple of a uniform map's share, was "
        + ", ".join(f"{fmt(chance[label], 2)}× for {label}" for label in chance.index)
        + "."
    )
    if ce_label is not None:
        ce_loc = (loc[ce_label], summary.loc[ce_label, "point loc. acc. ±95%"])
        verdicts = []
        for label in loc.index:
            if label == ce_label:
                continue
            other = (loc[label], summary.loc[label, "point loc. acc. ±95%"])
            side = "below" if other[0] < ce_loc[0] else "above"
            spread = "within" if _overlap(other, ce_loc) else "beyond"
            verdicts.append(f"{label} localised {side} CE, {spread} the seed-to-seed spread")
        if verdicts:
            lines.append("; ".join(verdicts) + ".")
    rho, p = result.distinctiveness_vs_localisation()
    if np.isfinite(rho):
        verdict = (
            "more distinct maps went with better localisation"
            if rho < 0 and p < 0.05
            else "more distinct maps went with *worse* localisation"
            if rho > 0 and p < 0.05
            else "no reliable relation between distinctness and localisation"
        )
        lines.append(
            f"Across all {len(result.runs)} trained models the Spearman correlation between L_CD on the test set and "
            f"point localisation accuracy was {rho:+.2f} (p = {p:.2g}; a negative value means that lower L_CD, i.e. "
            f"more distinct maps, goes with more hits): {verdict}."
        )
    ratios = {label: result.epoch_time_ratio(label) for label in summary.index if label != ce_label}
    if ratios:
        lines.append(
            "**Cost.** Median seconds per training epoch over CE's: "
            + ", ".join(f"{fmt(v, 2)}× for {label}" for label, v in ratios.items())
            + ". With an average-pooling head the maps of all classes come in closed form from the same forward "
            "pass; the isolated training-step ratio is on the performance page."
        )
    coherence = coherence_sentence(result)
    if coherence:
        lines.append(coherence)
    return "\n\n".join(lines)


def coherence_sentence(result: SaliencyLossResult) -> str:
    """Does the full loss (with λ2·L_SC) converge, and at what cost per epoch? Empty without that arm."""
    s = result.settings
    if Arm.COHERENCE.value not in s.arms:
        return ""
    label = coherence_label(s.lambda_sc)
    c = result.convergence(label)
    n, diverged = c["seeds"], c["diverged"]
    if diverged == n:
        return (
            f"**Spatial coherence (λ2 = {s.lambda_sc:g}).** Every one of the {n} seed(s) diverged (non-finite "
            'loss): on this run the source\'s "did not converge" holds in its plainest form.'
        )
    first, best, plateau = c["val_loss_first_epoch"], c["val_loss_best"], c["stopped_by_plateau_rule"]
    ratio = result.epoch_time_ratio(label)
    ce_label = next((r.label for r in result.runs if r.arm == Arm.CE.value), None)
    ce_plateau = result.convergence(ce_label)["stopped_by_plateau_rule"] if ce_label else None
    summary = result.summary()
    auc = summary.loc[label, "mean AUROC"]
    custom = summary["mean AUROC"].get("Custom", np.nan)
    fell = best < first
    h, w = next(r for r in result.runs if r.label == label).maps.shape[-2:]
    share = min(9, h) * min(9, w) / (h * w)
    verdict = (
        "its training converged as the other arms' did"
        if fell and not diverged
        else "its validation loss did not fall"
        if not fell
        else f"{diverged} of {n} seeds diverged"
    )
    return (
        f"**Spatial coherence (λ2 = {s.lambda_sc:g}; the source gives no λ2).** The source left L_SC out because "
        'training with it "doesn\'t seem to converge within reasonable time limits". Here the full loss '
        f"(L_WCE + {s.lambda_cd:g}·L_CD + {s.lambda_sc:g}·L_SC) trained on {n} seed(s): {diverged} diverged, "
        f"{plateau} stopped by the plateau rule (CE: {ce_plateau}) and the rest at the {s.epochs}-epoch cap; its "
        f"validation loss fell from {fmt(first, 3)} in the first epoch to {fmt(best, 3)} at its best, so "
        f"{verdict}. Its mean test AUROC was {fmt(auc)} (Custom: {fmt(custom)}), and an epoch cost "
        f"{fmt(ratio, 2)}× CE's"
        + (
            ", so on this grid the term is cheap and the source's slowness is not reproduced."
            if ratio < 2
            else ", a cost of the kind the source reports."
        )
        + f" What this run cannot test is the source's scale: the term runs on the {h}×{w} Grad-CAM grid, "
        f"where the 9×9 window covers {share:.0%} of the map; on a 224-px map it is a small patch."
    )
