"""Study 01: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..prose import fmt

if TYPE_CHECKING:
    from .result import BaselineResult

__all__ = ["baseline_discussion"]


def baseline_discussion(result: BaselineResult) -> str:
    """A paragraph per finding, generated from ``result`` so the text cannot contradict the tables."""
    s, summary = result.settings, result.summary()
    run = result.run
    lines = []
    auc = summary["mean AUROC"].sort_values(ascending=False)
    lines.append(
        f"**Discrimination.** On {s.dataset} at {s.image_size} px ({run.get('n_train', '?')} training images, "
        f"at most {s.epochs} epochs, {'ImageNet weights' if s.pretrained else 'trained from scratch'}, "
        f"{run.get('device', 'device not recorded')}), mean test AUROC was "
        + ", ".join(f"{fmt(v)} for {bb}" for bb, v in auc.items())
        + "."
    )
    weak = [bb for bb, v in auc.items() if not np.isfinite(v) or v < 0.6]
    if weak:
        lines.append(
            f"{', '.join(weak)} stayed close to chance (AUROC below 0.6): in this budget "
            f"{'it has' if len(weak) == 1 else 'they have'} not learned the findings, so "
            f"{'its' if len(weak) == 1 else 'their'} maps below explain little."
        )
    if len(result.classes) > 1 and len(result.runs):
        best = auc.index[0]
        per = pd.concat([r.auroc for r in result.runs if r.backbone == best], axis=1).mean(axis=1).drop("mean")
        per = per.dropna().sort_values()
        if len(per):
            lines.append(
                f"For {best}, the hardest class was {per.index[0]} ({fmt(per.iloc[0])}) and the "
                f"easiest {per.index[-1]} ({fmt(per.iloc[-1])})."
            )
    if result.localization_available:
        loc = summary["point loc. acc."].sort_values(ascending=False)
        grids = {r.backbone: f"{r.maps.shape[-2]}×{r.maps.shape[-1]}" for r in result.runs}
        flat = {r.backbone: int(r.localization.loc["weighted", "flat"]) for r in result.runs}
        n_boxes = int(result.runs[0].localization.loc["weighted", "n"]) if result.runs else 0
        lines.append(
            "**Localisation.** Weighted point localisation accuracy over "
            f"{n_boxes} boxed test findings was "
            + ", ".join(
                f"{fmt(v)} for {bb} ({grids[bb]} Grad-CAM grid, {flat[bb]} flat map(s) counted as misses)"
                for bb, v in loc.items()
            )
            + "."
        )
        best_loc = loc.index[0]
        table = pd.concat([r.localization for r in result.runs if r.backbone == best_loc])
        per_class = table.drop(["weighted", "macro"]).groupby(level=0)[["hits", "n"]].sum()
        per_class = per_class[per_class["n"] > 0]
        if len(per_class) > 1:
            rate = per_class["hits"] / per_class["n"]
            worst = rate[rate == rate.min()].index.tolist()
            best = rate.idxmax()

            def _hits(c: str) -> str:
                return f"{int(per_class.loc[c, 'hits'])} of {int(per_class.loc[c, 'n'])} boxes hit"

            lines.append(
                f"For {best_loc}, the class localised worst was "
                + " and ".join(f"{c} ({_hits(c)})" for c in worst)
                + f", the best {best} ({_hits(best)})."
            )
        if any(flat.values()):
            lines.append(
                "A flat map (all zero after the ReLU) has no peak and is scored as a miss; many of them "
                "mean the model gives that class no positive evidence anywhere."
            )
    else:
        lines.append(f"**Localisation** is {result.localization_note}.")
    mass = result.mass_in_mask_table()
    if "uniform map (chance)" in mass and len(result.runs):
        chance = mass["uniform map (chance)"]
        parts = []
        for r in result.runs:
            col = mass[f"{r.backbone} s{r.seed}"]
            known = col.notna() & chance.notna() & (chance > 0)
            ratio = float((col[known] / chance[known]).mean()) if known.any() else float("nan")
            above = int((col[known] > chance[known]).sum())
            parts.append(
                f"{ratio:.2f}× for {r.backbone} (above the uniform map for {above} of {int(known.sum())} classes)"
            )
        lines.append(
            "**Mass in mask.** Averaged over classes, the share of Grad-CAM mass inside the finding's mask, as a "
            "multiple of a uniform map's share (1× is chance: the mask's share of the image), was "
            + ", ".join(parts)
            + "."
            + (
                " These are single runs without an interval: differences of a few thousandths between a class's "
                "share and its chance level are noise."
                if len({r.seed for r in result.runs}) == 1
                else ""
            )
        )
    return "\n\n".join(lines)
