"""Study 09: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..prose import short_ci
from ..pylon import model_label
from .settings import BASE, GAP_BASELINES, GAP_VARIANTS

if TYPE_CHECKING:
    from .result import PylonAblationResult

__all__ = ["AGREEMENT_MARGIN", "ablation_discussion"]


#: a model's seeds' maps "agree less" than PYLON's when their mean correlation is lower by more than this
AGREEMENT_MARGIN = 0.05


def ablation_discussion(r: PylonAblationResult) -> str:
    """Paragraphs generated from the numbers of ``r`` (Markdown)."""
    s, a, t = r.settings, r.ablation, r.transfer
    lines = []
    base = model_label(BASE)
    pylon_runs = r.weighted_accuracies(BASE)
    ref, ref_ci = float(np.mean(pylon_runs)), a.localization_stats(BASE, "weighted")
    low, high = min(pylon_runs), max(pylon_runs)
    parts, outside = [], []
    for m in [m for m in a.models if m not in (BASE, *GAP_VARIANTS, *GAP_BASELINES)]:
        mean, half = a.localization_stats(m, "weighted")
        seeds = len(a._runs(m))
        if seeds > 1 and np.isfinite(ref_ci[1]):
            within = abs(mean - ref) <= half + ref_ci[1]
            how = "within the two intervals" if within else "beyond the two intervals"
        else:
            within = low <= mean <= high
            how = f"inside {base}'s range over its seeds" if within else f"outside {base}'s range over its seeds"
        parts.append(f"{model_label(m)} {mean:.2f} ({mean - ref:+.2f}; {seeds} seed{'s' if seeds > 1 else ''}, {how})")
        if not within:
            outside.append(m)
    if parts:
        lines.append(
            f"**Ablations (Table 6.2).** {s.encoder} {'from ImageNet weights' if s.pretrained else 'from scratch'} "
            f"at {s.image_size} px on {s.dataset} "
            f"({a.run.get('n_train', '?')} training images, at most {s.epochs} epochs). Weighted point accuracy of "
            f"{base}, the thesis's base model, {short_ci(*ref_ci)} over {len(pylon_runs)} seeds (from {low:.2f} to "
            f"{high:.2f}); "
            + "; ".join(parts)
            + f". The thesis found its ablations 0.02–0.05 below {base} (0.62) on NIH at 256 px, and PYLON's two-layer "
            "UP level with it (0.62). "
            + (
                f"Every ablation here lies within {base}'s own seed-to-seed variation, so this run cannot rank the "
                "parts."
                if not outside
                else f"{', '.join(outside)} {'lies' if len(outside) == 1 else 'lie'} beyond {base}'s seed-to-seed "
                "variation; with one seed per ablation that is a hint, not a measured difference."
                if all(len(a._runs(m)) == 1 for m in outside)
                else f"{', '.join(outside)} {'differs' if len(outside) == 1 else 'differ'} from {base} beyond the "
                "95 % intervals at this scale."
            )
        )
    gap = []
    agree_ref, _ = r.seed_agreement(BASE)
    sd = {m: np.nan if r.spread(m) is None else r.spread(m) for m in r.gap_models}
    for m in GAP_VARIANTS:
        if m in a.models:
            agree, _ = r.seed_agreement(m)
            gap.append(f"{m}: s.d. {sd[m]:.3f}, map agreement {agree:.2f}")
    if gap:
        present = [m for m in GAP_VARIANTS if m in a.models]
        higher_sd = [m for m in present if sd[m] > sd[BASE]]
        lower_agreement = [m for m in present if r.seed_agreement(m)[0] < agree_ref - AGREEMENT_MARGIN]
        both = [m for m in present if m in higher_sd and m in lower_agreement]
        verdict = (
            f"So {', '.join(both)} {'is' if len(both) == 1 else 'are'} less stable than {base} on both measures, in "
            "the direction the thesis reports."
            if both
            else f"No +GAP variant is less stable than {base} on both measures here"
            + (
                f" (the maps of {', '.join(lower_agreement)} agree less across seeds than {base}'s, by more than "
                f"{AGREEMENT_MARGIN}, but "
                f"{'its' if len(lower_agreement) == 1 else 'their'} point accuracy varies no more)"
                if lower_agreement
                else ""
            )
            + (
                f" (the point accuracy of {', '.join(higher_sd)} varies more, but "
                f"{'its' if len(higher_sd) == 1 else 'their'} maps agree no less)"
                if higher_sd and not lower_agreement
                else ""
            )
            + ": this run does not reproduce the instability clearly (with this few seeds a standard deviation is "
            "itself very uncertain)."
        )
        lines.append(
            f"**GAP in the decoder (Table 6.1).** The thesis saw higher variance over seeds when a global average "
            f"pooling sits in the decoder. Over {len(a._runs(BASE))} seeds, {base}'s weighted point accuracy has a "
            f"standard deviation of {sd[BASE]:.3f} and its seeds' maps agree at {agree_ref:.2f} (mean Pearson "
            "correlation on the boxed test findings); " + "; ".join(gap) + ". " + verdict
        )
    macro = {m: t.localization_stats(m, "macro") for m in t.models}
    auc = {m: t.auroc_stats(m, "mean")[0] for m in t.models}
    lines.append(
        f"**Transfer (Table 5.5).** Source weights: {r.source_note}. Target: {t.run.get('n_train', '?')} training and "
        f"{t.run.get('n_test', '?')} test images of {s.target_dataset}"
        + (
            f" with the labels and boxes of {s.n_readers} simulated readers ({s.reader_rule})"
            if s.target_dataset == "synth-cxr"
            else ""
        )
        + ". Macro point accuracy: "
        + "; ".join(f"{m} {short_ci(*macro[m])} (AUROC {auc[m]:.3f})" for m in t.models)
        + ". The thesis on VinDr-CXR: GMP 0.31, PYLON 0.42, fine-tuned 0.48, two-phase 0.55."
    )
    (two, two_h), (fine, _), (scratch, scratch_h) = (
        macro.get(k, (np.nan, np.nan)) for k in ("pylon (two-phase)", "pylon (fine-tuned)", "pylon (scratch)")
    )
    order = two > fine > scratch
    n_seeds = len(s.transfer_seeds)
    if n_seeds > 1 and np.isfinite(two_h) and np.isfinite(scratch_h):
        apart = two - scratch > two_h + scratch_h
        noise = (
            "two-phase's interval and scratch's lie apart, so the gain of two-phase over scratch is measured"
            if apart
            else "two-phase's and scratch's intervals overlap, so even that gap is not established by this run"
        )
    else:
        noise = "one seed per arm gives no interval, so these are single draws"
    lines.append(
        (
            "The thesis's ordering (two-phase > fine-tuned > scratch for PYLON) holds in the means of this run"
            if order
            else "The thesis's ordering (two-phase > fine-tuned > scratch for PYLON) does not hold in the means of "
            "this run"
        )
        + f" ({two:.2f}, {fine:.2f}, {scratch:.2f}); {noise}."
    )
    weak = [m for m in t.models if not np.isfinite(auc[m]) or auc[m] < 0.6]
    if weak:
        lines.append(
            f"{len(weak)} of the {len(t.models)} arms stayed near chance on the target (macro AUROC below 0.6: "
            f"{', '.join(weak)}): with this few target images and epochs they have barely learned the findings, "
            "and the map of a model that does not detect a finding cannot be expected to point at it."
        )
    if r.reader_agreement is not None:
        ag = r.reader_agreement
        lines.append(
            f"The readers' union finds {ag['sensitivity'].mean():.0%} of the true findings, but only "
            f"{ag['precision'].mean():.0%} of what it labels positive is a true finding (mean over classes): "
            "a false-positive box sits somewhere in the chest, so even a perfect map cannot score 1 against it."
        )
    return "\n\n".join(lines)
