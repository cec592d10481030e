"""Study 06: the discussion, generated from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...bayes import DEFAULT_GRID
from .settings import SOURCE_TABLE1

if TYPE_CHECKING:
    from .result import LaplaceResult

__all__ = ["laplace_discussion", "source_direction_sentence"]


def _f(x: float, d: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


#: how each way of choosing the prior precision is named in the text
_FIT_NAMES = {
    "cv": "cross-validation",
    "marglik": "the evidence",
    "gridsearch": "the validation grid",
}


def _direction(change: float) -> str:
    """How a change shows at the three decimals the text prints: lower, higher, or unchanged."""
    return "unchanged at three decimals" if abs(change) < 5e-4 else "lower" if change < 0 else "higher"


def source_direction_sentence(table1: pd.DataFrame) -> str:
    """Whether our Laplace variants moved the ECE the way the source's did (Table 1 beside the source)."""
    ours_map = float(table1.loc["MAP", "ECE"])
    src_map = SOURCE_TABLE1["MAP"][1]
    said = []
    for method in table1.index.drop("MAP"):
        if method not in SOURCE_TABLE1:
            continue
        ours, src = float(table1.loc[method, "ECE"]), SOURCE_TABLE1[method][1]
        agree = (ours < ours_map) == (src < src_map)
        said.append(
            f"{method}: the source's ECE went {src_map:.3f} → {src:.3f}, ours {ours_map:.3f} → {ours:.3f} "
            f"({ours / ours_map:.1f}× the MAP network's; {'the same direction' if agree else 'the opposite direction'})"
        )
    if not said:
        return ""
    return (
        "**Against the source's Table 1** (the table beside ours above): "
        + "; ".join(said)
        + ". Where the directions differ, our run does not reproduce the source's calibration gain."
    )


def laplace_discussion(result: LaplaceResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s, t = result.settings, result.table1
    map_row = t.loc["MAP"]
    extra = t[t["prior fit"] != s.prior_fit].drop(index="MAP")
    lap = t[t["prior fit"] == s.prior_fit]
    parts = [
        f"**Table 1.** The MAP network reached test accuracy {map_row['accuracy']:.3f}, top-label ECE "
        f"{map_row['ECE']:.3f} and NLL {map_row['NLL']:.3f}."
    ]
    for name, row in lap.iterrows():
        d_ece, d_nll = row["ECE"] - map_row["ECE"], row["NLL"] - map_row["NLL"]
        parts.append(
            f"{name} ({_FIT_NAMES.get(s.prior_fit, s.prior_fit)}, prior precision {row['prior precision']:.3g}): "
            f"accuracy {row['accuracy']:.3f}, "
            f"ECE {row['ECE']:.3f} ({_direction(d_ece)}), NLL {row['NLL']:.3f} ({_direction(d_nll)})."
        )
    parts.append(source_direction_sentence(t))
    best = lap["NLL"].idxmin()
    parts.append(f"The lowest NLL among the Laplace variants was {best}'s.")
    gap = map_row["confidence"] - map_row["accuracy"]
    lowered = bool((lap["confidence"] < map_row["confidence"]).all())
    text = (
        f"The MAP network's mean top-class confidence was {map_row['confidence']:.3f} against its accuracy "
        f"{map_row['accuracy']:.3f}: it was {'over' if gap > 0 else 'under'}confident. The Laplace predictive "
        f"{'lowered' if lowered else 'changed'} the mean confidence to {lap['confidence'].min():.3f}–"
        f"{lap['confidence'].max():.3f}"
    )
    if lowered:
        text += (
            ", which moves an overconfident network towards calibration."
            if gap > 0
            else ", which moves an underconfident network further from calibration: the posterior widens the "
            "predictions, and here they needed sharpening."
        )
    parts.append(text + ("" if lowered else "."))
    changed = lap.index[(lap["accuracy"] - map_row["accuracy"]).abs() > 1e-12].tolist()
    parts.append(
        "The multi-class probit scales each logit by its own variance, so it can change the arg-max: "
        + (f"here it changed the accuracy of {', '.join(changed)}." if changed else "here it changed no accuracy.")
    )
    if len(extra):
        by_evidence = "; ".join(
            f"{name.removeprefix('Laplace ').split(' ')[0]}: ECE {row['ECE']:.3f}, NLL {row['NLL']:.3f}"
            for name, row in extra.iterrows()
        )
        parts.append(f"With the prior precision from the marginal likelihood instead (the extra rows): {by_evidence}.")
    fit_pass, optimise = lap["fit + forward pass (s)"], lap["optimise (s)"]
    parts.append(
        f"Timing, the same operations as the source's columns: the fit with the network's forward pass over the "
        f"training images took {fit_pass.min():.2g}–{fit_pass.max():.2g} s (the fit alone, on cached features, "
        f"{lap['fit (s)'].min():.2g}–{lap['fit (s)'].max():.2g} s) and choosing the prior precision "
        f"({_FIT_NAMES.get(s.prior_fit, s.prior_fit)}) {optimise.min():.2g}–{optimise.max():.2g} s, against the "
        "source's 0.06–0.07 h and 0.35–0.71 h on MURA's 37 000 training images; data sizes and hardware differ by "
        "orders of magnitude, so only the order of the times and their ranking across Hessians are comparable."
    )
    out = [" ".join(parts)]
    if result.priors is not None and len(result.priors):
        sentences = []
        for h in s.hessians:
            r = result.priors.loc[h]
            chosen = [
                f"{r.loc[m, 'prior precision']:.3g} by {_FIT_NAMES[m]} (test NLL {r.loc[m, 'NLL']:.3f}, "
                f"{r.loc[m, 'optimise (s)']:.2g} s"
                + (
                    "; the grid's largest value, where the posterior has all but collapsed onto the MAP weights)"
                    if m != "marglik" and r.loc[m, "prior precision"] >= max(DEFAULT_GRID)
                    else ")"
                )
                for m in r.index
            ]
            sentences.append(f"{h}: λ = " + ", ".join(chosen))
        if sentences:
            out.append("**Choosing the prior precision λ.** " + "; ".join(sentences) + ".")
    if result.multilabel is not None:
        m = result.multilabel.mean(axis=1).unstack()
        info = result.extra["bernoulli"]
        text = "**Multi-label.** Mean over the five classes on the SynthCXR test set: " + "; ".join(
            f"{name}: ECE {_f(r['ECE'], 4)}, NLL {_f(r['NLL'], 4)}" for name, r in m.iterrows()
        )
        text += f" (temperature T = {info['temperature']:.2f}). "
        best = m["NLL"].idxmin()
        text += f"The lowest mean NLL was {best}'s. "
        text += (
            "The probit predictive kept every probability on the MAP's side of 1/2, as it must (it only shrinks "
            "the logit), so thresholded decisions at 1/2 did not change."
            if info["same_side_of_half"]
            else "Some probabilities crossed 1/2 under the probit predictive, which should not happen."
        )
        out.append(text)
    if result.ood is not None:
        o = result.ood
        rows = "; ".join(
            f"{name}: {_f(r['entropy MSK test'], 2)} → {_f(r['entropy SynthCXR'], 2)} nats (AUROC "
            f"{_f(r['AUROC (entropy flags SynthCXR)'])})"
            for name, r in o.iterrows()
        )
        gain = o.drop(index="MAP")["AUROC (entropy flags SynthCXR)"] - o.loc["MAP", "AUROC (entropy flags SynthCXR)"]
        verdict = (
            "Every Laplace variant separated the shifted images at least as well as MAP."
            if (gain >= 0).all()
            else "Not every Laplace variant separated the shifted images at least as well as MAP."
        )
        below = o.index[o["AUROC (entropy flags SynthCXR)"] < 0.5].tolist()
        if below:
            verdict += (
                f" For {', '.join(below)} the AUROC is below 0.5: the chest images got *lower* entropy than the "
                "MSK test images, so entropy does not flag them: "
                "the model is more certain about images of another domain than about its own."
            )
        out.append(
            f"**Out of distribution.** Mean predictive entropy on MSK test vs SynthCXR images (max "
            f"{np.log(len(result.run['classes'])):.2f} nats): {rows}. {verdict}"
        )
    return "\n\n".join(out)
