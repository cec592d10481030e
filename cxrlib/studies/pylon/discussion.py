"""Study 08: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...models.pylon import pyramid_levels
from ..prose import short_ci
from .settings import COMPARABLE_AUROC, SMALL_LESION_AREA, VARIANTS

if TYPE_CHECKING:
    from .result import PylonResult

__all__ = ["pylon_discussion"]


def pylon_discussion(result: PylonResult) -> str:
    """Paragraphs generated from the numbers of ``result`` (Markdown)."""
    s, run = result.settings, result.run
    lines = []
    auc = {m: result.auroc_stats(m, "mean") for m in result.models}
    loc = {m: result.localization_stats(m, "weighted") for m in result.models}
    grids = {m: "×".join(str(x) for x in result._runs(m)[0].maps.shape[-2:]) for m in result.models}
    seeds = len(s.seeds)
    lines.append(
        f"**Setting.** {s.encoder} encoder trained from {'ImageNet weights' if s.pretrained else 'scratch'} on "
        f"{s.dataset} at {s.image_size} px ({run.get('n_train', '?')} training images, at most {s.epochs} epochs, "
        f"{seeds} seed{'s' if seeds > 1 else ''}{'' if seeds > 1 else ', so no interval'}, "
        f"{run.get('device', 'device not recorded')}). Macro test AUROC was "
        + ", ".join(f"{short_ci(*auc[m])} for {m}" for m in result.models)
        + "; weighted point localisation accuracy "
        + ", ".join(f"{short_ci(*loc[m])} for {m} ({grids[m]} maps)" for m in result.models)
        + "."
    )
    spatial = [f"{h}×{w}" for h, w in pyramid_levels(s.image_size)[1:] if h * w > 1]
    if any(VARIANTS[m][0] == "pylon" for m in result.models):
        lines.append(
            f"**The pyramid at {s.image_size} px.** PA's bottleneck is "
            f"{'×'.join(map(str, pyramid_levels(s.image_size)[0]))}"
            + (
                f" and its pooled levels {', '.join(spatial)} are spatial, so the attention can say where."
                if len(spatial) >= 2
                else f"; {'only one of its pooled levels is' if spatial else 'none of its pooled levels is'} "
                "larger than 1×1, so the attention is little more than one number per image: the pyramid cannot "
                "help localise at this size, and what this run says about PYLON's maps comes from its UP modules "
                "and its 1×1 head (the thesis's 256 px gives an 8×8 bottleneck and levels of 4×4 and 2×2)."
            )
        )
    weak = [m for m in result.models if not np.isfinite(auc[m][0]) or auc[m][0] < 0.6]
    if weak:
        lines.append(
            f"{', '.join(weak)} stayed close to chance (macro AUROC below 0.6): in this budget "
            f"{'it has' if len(weak) == 1 else 'they have'} barely learned the findings, so "
            f"{'its' if len(weak) == 1 else 'their'} maps say little."
        )
    cmp = result.small_lesion_comparison()
    if cmp is not None:
        small, per, d_auc, comparable = (
            cmp["classes"],
            cmp["per_class"],
            cmp["auroc_difference"],
            cmp["comparable_auroc"],
        )
        n_small = result.runs[0].localization.loc[small, "n"].astype(int)
        lines.append(
            f"**Small lesions.** The classes whose median truth box covers less than {SMALL_LESION_AREA:.1%} of "
            f"the image are {', '.join(small)}. Point localisation accuracy, PYLON vs GMP (means over seeds): "
            + "; ".join(f"{c} {p:.2f} vs {g:.2f} ({int(n_small[c])} boxes)" for c, (p, g) in per.items())
            + f". PYLON's macro AUROC is {abs(d_auc):.3f} {'above' if d_auc >= 0 else 'below'} GMP's "
            f"({'comparable' if comparable else 'not comparable'} by this page's rule: comparable means at most "
            f"{COMPARABLE_AUROC} lower in the mean; the 95 % intervals of Table 5.4 say how firm that is)."
        )
        small_auc = {c: (result.auroc_stats("pylon", c)[0], result.auroc_stats("gmp", c)[0]) for c in small}
        undetected = [c for c, (p, g) in small_auc.items() if max(p, g) < 0.6]
        if undetected:
            lines.append(
                "Their per-class AUROC, PYLON vs GMP: "
                + "; ".join(f"{c} {p:.2f} vs {g:.2f}" for c, (p, g) in small_auc.items())
                + f". Neither model detects {', '.join(undetected)} (AUROC below 0.6 for both), so neither map can be "
                "expected to point at them: this run cannot test the thesis's small-lesion gain for "
                + ("that class." if len(undetected) == 1 else "those classes.")
            )
        gmp_run, pylon_run = result._runs("gmp")[0], result._runs("pylon")[0]
        cell = {m: s.image_size // r.maps.shape[-1] for m, r in (("gmp", gmp_run), ("pylon", pylon_run))}
        if cmp["pylon_beats_gmp"]:
            lines.append(
                "So on this run **PYLON beats the GMP baseline on point localisation of every small-lesion class "
                "at a comparable AUROC**, as the thesis found on NIH. Resolution is one reason: GMP's "
                f"{grids['gmp']} map can only put its maximum in one of {int(np.prod(gmp_run.maps.shape[-2:]))} cells "
                f"of {cell['gmp']} px, larger than these boxes, while PYLON's {grids['pylon']} map has cells of "
                f"{cell['pylon']} px."
            )
        else:
            why = []
            if not comparable:
                why.append(
                    f"PYLON's mean AUROC is more than {COMPARABLE_AUROC} below GMP's, so by this page's rule the two "
                    "are not equally well trained"
                )
            lost = [c for c in small if c not in cmp["wins"]]
            if lost:
                why.append(f"PYLON does not localise {', '.join(lost)} better than GMP")
            if any(m in weak for m in ("pylon", "gmp")):
                why.append("at least one of the two is near chance in this budget (too few epochs and images)")
            lines.append(
                (
                    "So on this run **PYLON beats the GMP baseline on no small-lesion class at a comparable AUROC**: "
                    if not cmp["wins"]
                    else "So on this run **PYLON does not beat the GMP baseline on every small-lesion class at a "
                    "comparable AUROC**: "
                )
                + "; ".join(why)
                + f". A likely reason: a finer map ({cell['pylon']} px cells against GMP's {cell['gmp']} px) only "
                "helps once the decoder has learned where the findings are; from scratch, with few images and "
                "epochs, it has little signal to learn that from. The `full` profile (ResNet-50, 256 px, more data "
                "and epochs) is the thesis's setting."
            )
    elif "pylon" in result.models and "gmp" in result.models:
        lines.append("**Small lesions.** No class of this run has boxes small enough to call small lesions.")
    others = [m for m in result.models if m not in ("pylon", "gmp")]
    if others and "pylon" in result.models:
        better = [m for m in others if loc[m][0] > loc["pylon"][0]]

        def apart(m: str) -> bool:
            return bool(np.isfinite(loc[m][1]) and np.isfinite(loc["pylon"][1])) and (
                loc[m][0] - loc["pylon"][0] > loc[m][1] + loc["pylon"][1]
            )

        measured = [m for m in better if apart(m)]
        text = (
            f"Among the other models, {', '.join(better) if better else 'none'} localised better than PYLON in the "
            "mean weighted point accuracy"
        )
        if better:
            text += (
                f"; for {', '.join(measured)} the 95 % intervals lie apart, so the difference is measured"
                if measured
                else "; every such difference lies within the two models' 95 % intervals, so none is established"
            )
            weak_better = [m for m in better if m in weak]
            if weak_better:
                text += f" ({', '.join(weak_better)} near chance: a point accuracy without detection means little)"
        lines.append(text + ".")
    conc = result.peak_concentration()
    if len(conc) > 1:
        mean_conc = conc.mean(axis=1)
        truth_share = mean_conc.iloc[-1]
        models_conc = mean_conc.iloc[:-1]
        lines.append(
            "**Where the peaks go.** The share of boxed findings whose map peak falls in the class's most frequent "
            "of 16 image regions (4×4; first seed), averaged over classes, was "
            + ", ".join(f"{v:.2f} for {m}" for m, v in models_conc.items())
            + f"; for the centres of the truth boxes themselves it is {truth_share:.2f}. "
            + " ".join(
                f"{m}'s peaks are more concentrated than the findings (by {v - truth_share:.2f}), as they would "
                "be if it reported a class at a few fixed places rather than following the finding (one seed; the "
                "table gives each class)."
                if v - truth_share >= 0.1
                else f"{m}'s peaks are about as spread as the findings (within 0.1), so fixed positions alone do not "
                "explain its misses (the table above gives the share per class)."
                for m, v in models_conc.items()
            )
        )
    gmp_runs = result._runs("gmp") if "gmp" in result.models else []
    if gmp_runs and min(gmp_runs[0].maps.shape[-2:]) <= 2:
        lines.append(
            f"GMP's {grids['gmp']} map is a special case: upsampled bilinearly, its maximum lies in a flat square "
            "at one corner of the image (a quarter of the side wide), so its point is always near a corner; "
            "at this image size the baseline cannot point at a finding away from the corners, whatever it has learned."
        )
    lines.append(
        "Point accuracy is scored on each model's raw map, upsampled bilinearly to the image; a constant map "
        "has no maximum and counts as a miss."
    )
    return "\n\n".join(lines)
