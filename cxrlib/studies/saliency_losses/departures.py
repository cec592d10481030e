"""Study 02: how this run differs from the source (Sharma and Pradeep P. 2023, §3.1–3.3, Table 4.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..departures import Departure, departures_table, protocol_departures
from ..sources import SHARMA_TABLE_41
from .settings import Arm

if TYPE_CHECKING:
    from .settings import SaliencyLossSettings

__all__ = ["saliency_loss_departures"]


def saliency_loss_departures(settings: SaliencyLossSettings) -> pd.DataFrame:
    """The "How this run differs from the source" table of notebook 02, from ``settings``."""
    s = settings
    rows = protocol_departures(s, SHARMA_TABLE_41)
    rows.append(
        Departure(
            "L_CD latent",
            '"latent representations of the saliency maps from the last convolutional layer" (how a map '
            "becomes a latent is not stated)",
            "each class's Grad-CAM map weights the last feature map into a C-vector (uniform weights for an "
            "all-zero map); L_CD is the mean pairwise cosine of those vectors"
            if s.cd_latent == "features"
            else "the Grad-CAM maps themselves, each at unit mass (an all-zero map counts as uniform); L_CD is the "
            "mean pairwise cosine of the maps",
            "one of two readings of an ambiguous definition (`-p cd_latent maps` gives the other); neither can be "
            "met by switching maps off (an empty map gets the same latent for every class)",
        )
    )
    lambdas = ", ".join(f"{v:g}" for v in dict.fromkeys([s.lambda_cd, *s.lambda_grid]))
    rows.append(
        Departure(
            "λ1",
            "grid search, values not stated; about 1.4",
            lambdas,
            "the source's value" + (", and a grid around it" if s.lambda_grid else ""),
            differs=bool(s.lambda_grid) or s.lambda_cd != 1.4,
        )
    )
    if Arm.COHERENCE.value in s.arms:
        rows.append(
            Departure(
                "L_SC",
                'not trained ("doesn\'t seem to converge within reasonable time"); λ2 and the threshold of its '
                "connected components not stated; a sum over pixels",
                f"trained in the Custom + L_SC arm: λ2 = {s.lambda_sc:g}, components of the map above 0.5 × its "
                "maximum, squared differences summed over the 9×9 window and averaged over pixels",
                "the source's claim is what the arm tests; the mean over pixels keeps λ2 independent of the map size",
            )
        )
    rows.append(
        Departure(
            "L_SC window",
            "9×9 neighbourhood on the saliency map (224-px Grad-CAM, upsampled)",
            "9×9 on the Grad-CAM grid itself"
            + (
                f" (output stride {s.output_stride}: {s.image_size // s.output_stride} cells a side)"
                if s.output_stride
                else ""
            ),
            "the loss runs on the maps the model produces; on a small grid the window covers most of the map",
            differs=Arm.COHERENCE.value in s.arms,
        )
    )
    if Arm.MODIFIED.value in s.arms:
        rows.append(
            Departure(
                "Modified arm",
                "weighted CE, then CE + λ1·L_CD; the split of its 15 epochs not stated",
                f"the CE arm's best weights (at most {s.epochs} epochs), then at most {s.second_epochs} epochs of "
                "CE + λ1·L_CD",
                "the second stage starts from the CE arm of the same seed, so the two are paired",
            )
        )
    rows.append(
        Departure(
            "Custom arm start",
            "contradictory: pretrained weights (§3.3), random weights (§4.3)",
            "ImageNet weights" if s.pretrained else "random weights",
            "the same start as the other arms, so the arms differ only in the loss",
        )
    )
    return departures_table(rows)
