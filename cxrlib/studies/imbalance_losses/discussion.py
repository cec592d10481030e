"""Study 04: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..prose import fmt, join, signed, with_ci
from .settings import LOSS_LABELS, Loss

if TYPE_CHECKING:
    from .result import ImbalanceLossResult

__all__ = ["imbalance_loss_discussion", "map_similarity_verdict"]


def imbalance_loss_discussion(result: ImbalanceLossResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown), so the text cannot contradict the tables."""
    s, summary, run = result.settings, result.summary(), result.run
    n_seeds = len(s.seeds)
    lines = []
    ce = LOSS_LABELS[Loss.WBCE.value]
    auc = {label: (summary.loc[label, "mean AUROC"], summary.loc[label, "mean AUROC ±95%"]) for label in summary.index}
    lines.append(
        f"**Discrimination (Table 4.2).** {s.backbone} on {s.dataset} at {s.image_size} px "
        f"({run.get('n_train', '?')} training images, at most {s.epochs} epochs, {n_seeds} seed(s)): mean test AUROC "
        + ", ".join(f"{with_ci(*v)} for {label}" for label, v in auc.items())
        + (" (mean ± 95% half-width over seeds)." if n_seeds > 1 else " (one seed: no interval).")
    )
    if ce in auc:
        parts = []
        for label in auc:
            if label == ce:
                continue
            d, h = result.paired_difference(label)
            if not np.isfinite(d):
                continue
            if np.isfinite(h) and abs(d) <= h:
                verdict = "cannot be told apart from CE at this number of seeds"
            elif np.isfinite(h):
                verdict = "ranked the test images better than CE" if d > 0 else "ranked the test images worse than CE"
            else:
                verdict = "was above CE in this single seed" if d > 0 else "was below CE in this single seed"
            parts.append(f"{label} {verdict} (paired difference {signed(d, h)})")
        if parts:
            lines.append(
                "Seed by seed (same initialisation and data order; AUC-M starts from that seed's CE model): "
                + "; ".join(parts)
                + ". The source found focal loss marginally above CE (mean validation AUROC 0.8867 vs 0.8841) "
                "and DeepAUC clearly below it (0.8291)" + _agreement(result) + "."
            )
    per = result.per_class_auroc().drop(columns="mean")
    if len(per.columns) > 1 and result.train_prevalence is not None:
        rare = result.train_prevalence.idxmin()
        spread = {label: per.loc[label].max() - per.loc[label].min() for label in per.index}
        lines.append(
            "**Per class.** "
            + "; ".join(
                f"{'For' if i == 0 else 'for'} {label} the weakest class was {per.loc[label].idxmin()} "
                f"({fmt(per.loc[label].min())}) and the strongest {per.loc[label].idxmax()} "
                f"({fmt(per.loc[label].max())})"
                for i, label in enumerate(per.index)
            )
            + ". The gap between the best and the worst class was "
            + ", ".join(f"{fmt(v)} for {label}" for label, v in spread.items())
            + f". The rarest class in training was {rare} ({result.train_prevalence[rare]:.0%} positives), with "
            + ", ".join(f"{fmt(per.loc[label, rare])} for {label}" for label in per.index)
            + "."
        )
    sim = {label: result.map_similarity_to_ce(label) for label in summary.index}
    if ce in sim and any(np.isfinite(v[0]) for v in sim.values()):
        others = {label: v for label, v in sim.items() if label != ce and np.isfinite(v[0])}
        ref = sim[ce]
        text = (
            "**Saliency (Fig. 4.6).** Cosine similarity of the Grad-CAM maps to the same seed's CE maps on the "
            "positive test findings (mean ± 95% half-width over seeds): "
            + ", ".join(f"{with_ci(*v)} for {label}" for label, v in others.items())
            + (f"; two CE models of different seeds agree to {with_ci(*ref)}." if np.isfinite(ref[0]) else ".")
        )
        if np.isfinite(ref[0]) and others:
            text += " " + map_similarity_verdict(others, ref)
        text += " The source saw CE and focal maps as almost identical and DeepAUC's as different, by eye on one image."
        loc = summary["point loc. acc."]
        if loc.notna().any():
            text += (
                " Weighted point localisation: " + ", ".join(f"{fmt(v)} for {label}" for label, v in loc.items()) + "."
            )
        lines.append(text)
    if result.sweep:
        table = result.sweep_table()
        info = result.sweep_info
        ps = sorted(table.index.get_level_values(0).unique())
        lo, hi = ps[0], ps[-1]
        at = {p: table.loc[p]["AUROC"] for p in ps}
        best_lo = at[lo].idxmax()
        seeds = len(s.sweep_seeds)
        text = (
            f"**Prevalence sweep.** {info['class']} was trained at {', '.join(f'{p:.0%}' for p in ps)} prevalence on "
            f"{info['n_train']} training images each (drawn from {info['pool']}; "
            f"{int(table.loc[lo]['positives'].iloc[0])} positives at {lo:.0%}) and tested on "
            f"{info['n_test']} test images with {info['test_positives']} positives. Its test AUROC went from "
            + ", ".join(
                f"{fmt(at[hi][label])} at {hi:.0%} to {fmt(at[lo][label])} at {lo:.0%} for {label}"
                for label in at[lo].index
            )
            + "; "
        )
        if at[lo].max() < 0.6:
            text += f"at {lo:.0%} no loss learned the class: every AUROC was below 0.6 (0.5 is chance). "
        else:
            text += f"at {lo:.0%} the highest was {best_lo}'s. "
        learned = [p for p in ps if at[p].max() >= 0.6]
        if learned and len(at[lo]) > 1:
            winners: dict[str, list[str]] = {}
            for p in learned:
                winners.setdefault(at[p].idxmax(), []).append(f"{p:.0%}")
            text += (
                "Where the class was learned, the highest test AUROC belonged to "
                + "; ".join(f"{label} at {join(where)}" for label, where in winners.items())
                + ". "
            )
        ap_lo = table.loc[lo]["AUPRC"]
        text += (
            f"AUPRC at {lo:.0%}: "
            + ", ".join(f"{fmt(v)} for {label}" for label, v in ap_lo.items())
            + f" (chance: the test prevalence, {info['test_prevalence']:.2f}). "
        )
        text += "Each point is one model" if seeds == 1 else f"Each point is a mean over {seeds} seeds"
        if n_seeds > 1:
            half = result.per_class_auroc_ci()[info["class"]]
            text += (
                f"; in the main table the 95% half-width of {info['class']}'s AUROC over {n_seeds} seeds was "
                f"{fmt(half.min())} to {fmt(half.max())} across losses, so differences between the losses smaller "
                "than that are within seed-to-seed noise."
            )
        else:
            text += "."
        lines.append(text)
    return "\n\n".join(lines)


def map_similarity_verdict(others: dict[str, tuple[float, float]], reference: tuple[float, float]) -> str:
    """Each loss's map similarity to CE against the CE-seed reference, with their 95% intervals: below it
    beyond the intervals there are (two CE seeds give one reference pair, without an interval), so "differ
    from CE's more than CE seeds do", or not told apart."""

    def apart(a: tuple[float, float], b: tuple[float, float]) -> bool:
        widths = [h for h in (a[1], b[1]) if np.isfinite(h)]
        if not widths:
            return False  # neither has an interval (one seed, one pair of CE seeds): no verdict
        return abs(a[0] - b[0]) > sum(widths)  # beyond the interval(s) there are

    unlike = [label for label, v in others.items() if apart(v, reference) and v[0] < reference[0]]
    same = [label for label in others if label not in unlike]
    parts = []
    if same:
        parts.append(f"{join(same)} maps cannot be told apart from another CE seed's at these intervals")
    if unlike:
        parts.append(f"{join(unlike)} maps differ from CE's more than CE seeds do (beyond the intervals)")
    return "; ".join(parts) + "."


def _agreement(result: ImbalanceLossResult) -> str:
    """How the sign of our paired differences compares with the source's, as a clause."""
    focal, _ = result.paired_difference(LOSS_LABELS[Loss.FOCAL.value])
    aucm, _ = result.paired_difference(LOSS_LABELS[Loss.AUCM.value])
    parts = []
    if np.isfinite(aucm):
        parts.append(
            "like the source, AUC-M ended below CE on average here"
            if aucm < 0
            else "unlike the source, AUC-M did not end below CE on average here"
        )
    if np.isfinite(focal):
        parts.append("focal was above CE on average, as there" if focal > 0 else "focal was not above CE on average")
    return ("; " + " and ".join(parts)) if parts else ""
