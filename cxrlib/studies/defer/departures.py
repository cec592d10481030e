"""Study 07: how this run differs from the source (Levin, Ruh and Yin's proposal, learning to defer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..departures import Departure, departures_table, protocol_departures
from ..sources import LEVIN_DEFER

if TYPE_CHECKING:
    from .settings import DeferSettings

__all__ = ["defer_departures"]


def defer_departures(settings: DeferSettings) -> pd.DataFrame:
    """The "How this run differs from the source" table of notebook 07, from ``settings``."""
    s = settings
    rows = protocol_departures(s, LEVIN_DEFER)
    image = s.unit == "image"
    rows.append(
        Departure(
            "deferral unit",
            "the image: the error model estimates P(the conditions in that image are classified correctly) and "
            "the clinician reads the image",
            "the image: one error model output, trained on whether some finding of the image is wrong; the other "
            "rules defer an image when P̂(some finding wrong) = 1 − Π(1 − P̂ per finding) exceeds c; coverage "
            "counts images"
            if image
            else "each (image, finding) pair on its own: a finding is deferred when its own P(wrong) exceeds c",
            "the per-finding error model is reported beside it, at the same cost"
            if image
            else "`-p unit finding`: a variant; coverage counts decisions, and the clinician reads most images anyway",
            differs=not image,
        )
    )
    rows.append(
        Departure(
            "error-model input",
            "the Grad-CAM output (and, in its summary, the prediction); which class's map not stated",
            "the Grad-CAM maps of every class and the predicted probabilities (a variant reads the "
            "probabilities alone)",
            "the variant says what the maps add to the probabilities",
        )
    )
    rows.append(
        Departure(
            "clinician",
            "a real clinician reads the deferred images; no accuracy given",
            f"simulated: sensitivity {s.clinician_sensitivity:g}, specificity {s.clinician_specificity:g} per "
            f"finding; a weak one on {s.weak_class} ({s.weak_sensitivity:g} / {s.weak_specificity:g})",
            "a simulated reader has an answer for every image, so system accuracy is measured",
        )
    )
    rows.append(
        Departure(
            "cost c",
            "a number in (0, 0.5), not given",
            f"{s.cost:g} for the headline; a sweep over (0, 0.5) for the curves",
            "–",
        )
    )
    rows.append(
        Departure(
            "error-model balance",
            "not balanced (§8)",
            {"none": "not balanced", "balanced": "balanced"}.get(s.error_balance, s.error_balance)
            + "; the balanced variant reported beside it",
            "–",
            differs=s.error_balance != "none",
        )
    )
    rows.append(
        Departure(
            "splits",
            "70/15/15 by patient, with a separate training split for the error model (sizes not stated)",
            "patients: " + " / ".join(f"{f:.0%}" for f in s.fractions) + " (classifier / error model / val / test)",
            "–",
        )
    )
    rows.append(
        Departure(
            "metrics",
            "accuracy and AUC with and without deferral",
            "AUROC and sensitivity without deferral; coverage, kept and system accuracy, kept AUROC, the sensitivity "
            "(1 − false-negative rate) of the kept decisions and of model + clinician, risk–coverage curves (AURC), "
            "accuracy at matched coverage",
            "the source's metrics are included; the others compare rules whose scores mean different things",
            differs=False,
        )
    )
    return departures_table(rows)
