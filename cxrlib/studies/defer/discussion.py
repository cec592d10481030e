"""Study 07: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...defer import (
    Rule,
)
from ..prose import fmt, join, percent, signed, with_ci

if TYPE_CHECKING:
    from .result import DeferResult

__all__ = ["defer_discussion", "MIN_SEEDS_FOR_VERDICT"]


def defer_discussion(result: DeferResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s, head, run = result.settings, result.headline, result.run
    rules, c = head["rules"], s.cost
    n_seeds = len(s.seeds)
    spread = "mean ± 95% half-width over seeds" if n_seeds > 1 else "one seed: no interval"
    lines = []
    acc, clin = head["per_class_accuracy_no_deferral"], head["per_class_clinician_accuracy"]
    better = [k for k in result.classes if clin[k] > acc[k]]
    worse = [k for k in result.classes if clin[k] <= acc[k]]
    mist = head["error_split_mistakes"]
    lines.append(
        f"**The set-up.** {s.backbone} on {s.dataset} at {s.image_size} px; patient-disjoint splits of "
        f"{run.get('n_train', '?')} images for the classifier, {run.get('n_error', '?')} for the error model, "
        f"{run.get('n_val', '?')} for validation and {run.get('n_test', '?')} for test; {n_seeds} seed(s) ({spread}). "
        f"Without deferral the classifier's test accuracy was {fmt(head['decision_accuracy_no_deferral'])} over all "
        "decisions (" + ", ".join(f"{k} {fmt(acc[k])}" for k in result.classes) + "), "
        f"{fmt(head['image_accuracy_no_deferral'])} per image (every finding of the image right), its AUROC "
        f"{fmt(head['auroc_no_deferral'])} (mean over classes) and its sensitivity "
        f"{fmt(head['sensitivity_no_deferral'])} (it missed {percent(1 - head['sensitivity_no_deferral'])} of the "
        "positive findings); the simulated "
        f"clinician's {result.unit_noun[:-1]} accuracy was {fmt(head['clinician_accuracy'])} (per finding: "
        + ", ".join(f"{k} {fmt(clin[k])}" for k in result.classes)
        + "). "
        + (
            f"The clinician is the more accurate on {join(better)}"
            if better
            else "The clinician is more accurate on no class"
        )
        + (f", the classifier on {join(worse)}. " if worse else ". ")
        + "The error model learns from the classifier's mistakes on its own split: on average "
        + ", ".join(f"{mist[k]:.0f} for {k}" for k in result.classes)
        + "."
    )
    parts = []
    for r in rules.values():
        kept = (
            f"kept accuracy {with_ci(r['kept_accuracy_at_c'], r['kept_accuracy_at_c_ci95'])}"
            if r["kept_accuracy_at_c"] is not None
            else "nothing kept"
        )
        parts.append(
            f"{r['label']} kept {with_ci(r['coverage_at_c'], r['coverage_at_c_ci95'])} of the {result.unit_noun} "
            f"({kept}; system accuracy {with_ci(r['system_accuracy_at_c'], r['system_accuracy_at_c_ci95'])})"
        )
    pooled = (
        "whole images deferred, as in the source: coverage counts images, and an image is right when every finding "
        "of it is"
        if result.pooled == "images"
        else "each finding deferred on its own, every decision pooled"
    )
    lines.append(f"**At c = {c:g}** ({pooled}): " + "; ".join(parts) + ".")
    lines += _missed_findings(result)
    lines += _unit_paragraph(result)
    beat = head["error_model_vs_no_deferral"]
    if beat["costs_with_coverage_below_1"] == 0:
        lines.append(
            "**Does the error model help at all?** At no cost of the sweep did it defer anything while keeping "
            "something, so the question has no answer in this run."
        )
    elif beat["at_every_coverage_below_1"]:
        lines.append(
            f"**Does the error model help at all?** Yes: at every one of the {beat['costs_with_coverage_below_1']} "
            "costs of the sweep (c = 0.01 … 0.49) where it deferred something, the accuracy of the "
            f"{result.unit_noun} it kept "
            f"(mean over seeds) was above the {fmt(beat['accuracy_no_deferral'])} of no deferral; the smallest gain, "
            f"{fmt(beat['smallest_gain'])}, came at c = {beat['smallest_gain_at_cost']:g} "
            f"(coverage {fmt(beat['smallest_gain_at_coverage'])})."
        )
    else:
        failing = beat["failing_costs"]
        lines.append(
            f"**Does the error model help at all?** Not everywhere: at {len(failing)} of the "
            f"{beat['costs_with_coverage_below_1']} costs of the sweep where it deferred something (c = "
            f"{', '.join(f'{x:g}' for x in failing[:6])}{' …' if len(failing) > 6 else ''}) the accuracy of what it "
            f"kept was not above the {fmt(beat['accuracy_no_deferral'])} of no deferral (smallest gain "
            f"{fmt(beat['smallest_gain'])} at coverage {fmt(beat['smallest_gain_at_coverage'])})."
        )
    lines += _versus_paragraphs(result)
    lines += _balance_paragraph(result)
    lines += _weak_paragraph(result)
    return "\n\n".join(lines)


def _missed_findings(result: DeferResult) -> list[str]:
    """The false-negative rate, which the source singles out: the classifier alone, the kept decisions and
    the system (model + clinician) at the headline cost, the clinician alone."""
    head, c = result.headline, result.settings.cost
    em = head["rules"][Rule.ERROR_MODEL.value]
    if em["system_sensitivity_at_c"] is None:
        return []
    kept = (
        f"the model's sensitivity on the positive findings it kept was "
        f"{with_ci(em['kept_sensitivity_at_c'], em['kept_sensitivity_at_c_ci95'])}, and "
        if em["kept_sensitivity_at_c"] is not None
        else "it kept no positive finding, and "
    )
    system, alone = em["system_sensitivity_at_c"], head["sensitivity_no_deferral"]
    change = "fewer" if system > alone + 0.005 else "more" if system < alone - 0.005 else "about as many"
    return [
        f"**Missed findings** (the false-negative rate, one minus the sensitivity). Alone, the classifier found "
        f"{fmt(alone)} of the positive findings and the clinician {fmt(head['clinician_sensitivity'])}. "
        f"With the error model deferring at c = {c:g}, {kept}model and clinician together found "
        f"{with_ci(system, em['system_sensitivity_at_c_ci95'])}: {change} missed findings than the classifier "
        "alone. The rule minimises errors of either kind at equal cost; a missed finding counts no more than a "
        "false alarm in it."
    ]


def _unit_paragraph(result: DeferResult) -> list[str]:
    """The error model deferring whole images against deferring each finding, at the headline cost."""
    units, c = result.headline["unit_comparison"], result.settings.cost
    if set(units) != {"image", "finding"}:
        return []
    image, finding = units["image"], units["finding"]

    def kept(u: dict) -> str:
        return "nothing" if not np.isfinite(u["kept_accuracy_decisions"]) else fmt(u["kept_accuracy_decisions"])

    return [
        f"**Per image or per finding?** At c = {c:g}, the error model deferring whole images (the source's unit, "
        f"trained on whether some finding of the image is wrong) let the model alone answer "
        f"{fmt(image['images_answered_by_the_model_alone'])} of the images ({fmt(image['decisions_kept'])} of the "
        f"decisions; kept accuracy {kept(image)}; system accuracy {fmt(image['system_accuracy_images'])} per image, "
        f"{fmt(image['system_accuracy_decisions'])} per decision). Deferring each finding on its own (an error model "
        f"per finding) kept {fmt(finding['decisions_kept'])} of the decisions (kept accuracy {kept(finding)}) but "
        f"left only {fmt(finding['images_answered_by_the_model_alone'])} of the images wholly to the model; system "
        f"accuracy {fmt(finding['system_accuracy_images'])} per image, {fmt(finding['system_accuracy_decisions'])} per "
        "decision. Per finding spends the clinician's attention more finely, but the clinician then reads almost "
        "every image anyway, which is why the source defers the image."
        if finding["images_answered_by_the_model_alone"] < image["images_answered_by_the_model_alone"]
        else f"**Per image or per finding?** At c = {c:g}, deferring whole images (the source's unit) let the model "
        f"alone answer {fmt(image['images_answered_by_the_model_alone'])} of the images (system accuracy "
        f"{fmt(image['system_accuracy_images'])} per image); deferring each finding on its own left "
        f"{fmt(finding['images_answered_by_the_model_alone'])} of the images wholly to the model (system accuracy "
        f"{fmt(finding['system_accuracy_images'])} per image, {fmt(finding['decisions_kept'])} of the decisions kept)."
    ]


#: fewer seeds give an interval too wide, or too often degenerate (two equal differences), to decide on
MIN_SEEDS_FOR_VERDICT = 3


def _decided(mean: float, half: float, n_seeds: int) -> str:
    """``"above"`` / ``"below"`` when the 95% interval of a paired difference excludes 0, ``"level"`` when it
    does not, ``"none"`` with fewer than :data:`MIN_SEEDS_FOR_VERDICT` seeds."""
    if n_seeds < MIN_SEEDS_FOR_VERDICT or half is None or not np.isfinite(half):
        return "none"
    return "above" if mean - half > 0 else "below" if mean + half < 0 else "level"


def _verdict(rows: list[dict], n_seeds: int) -> tuple[list[float], list[float], list[float]]:
    """Coverages where the paired difference is above 0, below 0, or cannot be told from 0 (all of them
    the last with too few seeds)."""
    if n_seeds < MIN_SEEDS_FOR_VERDICT:
        return [], [], [r["coverage"] for r in rows]
    above = [
        r["coverage"] for r in rows if np.isfinite(r["difference_ci95"]) and r["difference"] - r["difference_ci95"] > 0
    ]
    below = [
        r["coverage"] for r in rows if np.isfinite(r["difference_ci95"]) and r["difference"] + r["difference_ci95"] < 0
    ]
    neither = [r["coverage"] for r in rows if r["coverage"] not in above + below]
    return above, below, neither


def _versus_paragraphs(result: DeferResult) -> list[str]:
    head, lines = result.headline, []
    rules = head["rules"]
    em = rules[Rule.ERROR_MODEL.value]
    aurc = "; ".join(f"{r['label']} {with_ci(r['aurc'], r['aurc_ci95'])}" for r in rules.values())
    lines.append(
        "**Ranking the decisions (risk–coverage).** The area under the risk–coverage curve (mean over classes; lower "
        f"is better, a perfect ranking of this many mistakes gets close to 0) was {aurc}. The error model's AUROC for "
        "telling the classifier's mistakes from its correct answers was "
        f"{with_ci(em['mistake_auroc'], em['mistake_auroc_ci95'])}."
    )
    plain, n = [], len(result.runs)
    for other, rows in head["error_model_vs"].items():
        label = result.label(other)
        above, below, neither = _verdict(rows, n)
        diffs = ", ".join(f"{percent(r['coverage'])}: {r['difference']:+.3f}" for r in rows)
        if n < MIN_SEEDS_FOR_VERDICT:
            plain.append(
                f"Against {label}, the differences in kept accuracy (error model minus {label}) at coverage {diffs} "
                f"rest on {n} seed(s), too few for a verdict."
            )
            continue
        sentence = f"Against {label} (kept accuracy, error model minus {label}, paired over seeds: {diffs}): "
        verdicts = []
        if above:
            verdicts.append(f"the error model is better at coverage {', '.join(percent(q) for q in above)}")
        if below:
            verdicts.append(f"worse at {', '.join(percent(q) for q in below)}")
        if neither:
            verdicts.append(
                f"{'and ' if verdicts else ''}the two cannot be told apart at {', '.join(percent(q) for q in neither)}"
            )
        plain.append(sentence + "; ".join(verdicts) + ".")
    if plain:
        lines.append("**Does the error model beat the simpler rules?** " + " ".join(plain))
    if Rule.ERROR_MODEL_PROBS.value in rules:
        probs = rules[Rule.ERROR_MODEL_PROBS.value]
        rows = head["error_model_vs"].get(Rule.ERROR_MODEL_PROBS.value, [])
        above, below, _ = _verdict(rows, n)
        listed = ", ".join
        what = (
            f"with {n} seed(s) there is no verdict"
            if n < MIN_SEEDS_FOR_VERDICT
            else "the maps gave no measurable gain over the probabilities alone at any coverage tested"
            if not above and not below
            else (f"the maps did better at coverage {listed(percent(q) for q in above)}" if above else "")
            + ("; " if above and below else "")
            + (f"the probabilities alone did better at {listed(percent(q) for q in below)}" if below else "")
            + " (six coverages tested at 95% each: a single one is weak evidence)"
        )
        lines.append(
            f"**What do the maps add?** The same network fed the probabilities only had AURC "
            f"{with_ci(probs['aurc'], probs['aurc_ci95'])} and mistake AUROC "
            f"{with_ci(probs['mistake_auroc'], probs['mistake_auroc_ci95'])}, "
            f"against {with_ci(em['aurc'], em['aurc_ci95'])} and "
            f"{with_ci(em['mistake_auroc'], em['mistake_auroc_ci95'])} "
            f"with the Grad-CAM maps: {what} (matched-coverage test above)."
        )
    if Rule.SURROGATE.value in rules:
        sur = rules[Rule.SURROGATE.value]
        lines.append(
            "**The surrogate** is a network of its own, trained end to end with L_CE against the clinician; without "
            "deferral its own predictions were "
            f"{with_ci(sur['accuracy_no_deferral'], sur['accuracy_no_deferral_ci95'])} "
            f"accurate per decision (the classifier's {fmt(head['decision_accuracy_no_deferral'])}). "
            "It defers where it expects the "
            "clinician to beat its own answer by more than c, the clinician's errors counting against deferral, so "
            "its kept accuracy and its system accuracy answer different questions: read them together."
        )
    return lines


def _balance_paragraph(result: DeferResult) -> list[str]:
    b, c = result.headline["balance"], result.settings.cost
    if "balanced" not in b:
        return [
            "**Balanced or unbalanced training of the error model** (the source's open question) has no answer in "
            "this run: some class had no mistake (or no correct answer) in the error model's split of some seed, "
            "so there was nothing to balance."
        ]
    un, bal, cor = b["unbalanced"], b["balanced"], b["balanced_prior_corrected"]

    def kept(x):
        return (
            "nothing kept"
            if not np.isfinite(x.get("kept_accuracy", np.nan))
            else f"kept accuracy {fmt(x['kept_accuracy'])}"
        )

    head = result.headline
    aurc_diff, auc_diff = head["balance_aurc_difference"], head["balance_mistake_auroc_difference"]

    def verdict(d: dict, lower_is_better: bool) -> str:
        side = _decided(d["difference"], d["ci95"], len(result.runs))
        if side == "none":
            return f"{len(result.runs)} seed(s), no verdict"
        if side == "level":
            return "cannot be told apart"
        return "better with balancing" if (side == "below") == lower_is_better else "worse with balancing"

    ranking = verdict(aurc_diff, lower_is_better=True)
    shifted = bal["mean_p_wrong"] > un["mean_p_wrong"]
    threshold = (
        "its output has to be corrected before it is compared with a cost"
        if shifted
        else "here its output did not even rise on average"
    )
    advice = {
        "better with balancing": f"Balancing improved the ranking here; {threshold}.",
        "worse with balancing": f"Balancing made the ranking worse here; if it is used, {threshold}.",
        "cannot be told apart": f"Balancing bought no measurably better ranking here; if it is used, {threshold}.",
    }.get(
        ranking,
        f"Whether balancing changes the ranking has no verdict with this many seeds; if it is used, {threshold}.",
    )
    return [
        "**Balanced or unbalanced training of the error model** (the source's open question). The test error rate "
        f"was {fmt(un['observed_error_rate'])}. Trained unbalanced, the error model's mean P̂(wrong) was "
        f"{fmt(un['mean_p_wrong'])} and at c = {c:g} it kept {fmt(un['coverage'])} of the {result.unit_noun} "
        f"({kept(un)}); "
        f"balanced, its mean P̂(wrong) was {fmt(bal['mean_p_wrong'])} and it kept {fmt(bal['coverage'])} "
        f"({kept(bal)}). The ranking: AURC {fmt(un['aurc'])} unbalanced vs {fmt(bal['aurc'])} balanced "
        f"(paired difference {signed(aurc_diff['difference'], aurc_diff['ci95'])}: {ranking}), mistake AUROC "
        f"{fmt(un['mistake_auroc'])} vs {fmt(bal['mistake_auroc'])} (difference "
        f"{signed(auc_diff['difference'], auc_diff['ci95'])}: {verdict(auc_diff, lower_is_better=False)}). "
        "Undoing the prior shift (subtracting the log of the mistakes' weight from each logit) brings the balanced "
        f"model to a coverage of {fmt(cor['coverage'])} at the same c ({kept(cor)}). {advice}"
    ]


def _weak_paragraph(result: DeferResult) -> list[str]:
    w, c = result.headline["weak_clinician"], result.settings.cost
    alone = w["classifier_accuracy"]
    helped, hurt, level = [], [], []
    for rule, r in w["rules"].items():
        label = result.label(rule)
        side = _decided(r["gain_over_no_deferral_weak"], r["gain_over_no_deferral_weak_ci95"], len(result.runs))
        {"above": helped, "below": hurt}.get(side, level).append(label)
    details = ", ".join(
        f"{result.label(rule)} {fmt(r['system_accuracy_at_c_weak'])} (coverage {fmt(r['coverage_at_c_weak'])}; "
        f"{signed(r['gain_over_no_deferral_weak'], r['gain_over_no_deferral_weak_ci95'])} over its model alone)"
        for rule, r in w["rules"].items()
    )
    verdict = []
    if helped:
        verdict.append(f"still helped with {join(helped)}")
    if hurt:
        verdict.append(f"hurt with {join(hurt)}")
    if level:
        verdict.append(f"made no difference beyond the seed-to-seed spread with {join(level)}")
    weaker = w["clinician_accuracy"] < alone
    conclusion = (
        f"With {len(result.runs)} seed(s) there is no verdict on whether deferring to this clinician helped."
        if len(result.runs) < MIN_SEEDS_FOR_VERDICT
        else "Deferring to this clinician " + "; it ".join(verdict) + "."
    )
    sentence = (
        f"**{'A clinician weaker than the model' if weaker else 'A weaker clinician'} on {w['class']}** "
        f"(sensitivity {w['sensitivity']:g}, specificity {w['specificity']:g}: accuracy "
        f"{fmt(w['clinician_accuracy'])} there, against the classifier's {fmt(alone)}"
        + ("" if weaker else ", so in this run it is not weaker than the model")
        + f", and the usual clinician's {fmt(w['usual_clinician_accuracy'])}). System accuracy on "
        f"{w['class']} at c = {c:g}, and its gain over the same model without deferral (paired over seeds): "
        f"{details}. {conclusion} (A clinician less accurate than the model on average can still beat it on the "
        "decisions the model is least sure of: in this simulation the clinician's errors do not depend on the image.)"
    )
    if Rule.SURROGATE.value in w["rules"]:
        r = w["rules"][Rule.SURROGATE.value]
        change = r["coverage_at_c_weak"] - r["coverage_at_c"]
        sentence += (
            " The surrogate, trained again from scratch against the weak clinician, kept "
            f"{fmt(r['coverage_at_c_weak'])} of the {w['class']} decisions instead of {fmt(r['coverage_at_c'])}: "
            + (
                "it deferred less to the weaker clinician"
                if change >= 0.02
                else "it deferred about as much as before, although the clinician was weaker"
                if change > -0.02
                else "it deferred more, although the clinician was weaker"
            )
            + " (two networks trained from scratch, so part of the difference is training noise); the other rules do "
            "not know whom they defer to and deferred the same decisions as before."
        )
    return [sentence]
