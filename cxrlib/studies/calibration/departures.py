"""Study 05: how this run differs from the source (Sharma and Pradeep P. 2023, §3.5–3.6, 4.7, Table 4.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..departures import Departure, departures_table, protocol_departures
from ..imbalance_losses.departures import loss_departures
from ..sources import SHARMA_TABLE_42

if TYPE_CHECKING:
    from .settings import CalibrationSettings

__all__ = ["calibration_departures"]


def calibration_departures(settings: CalibrationSettings) -> pd.DataFrame:
    """The "How this run differs from the source" table of notebook 05, from ``settings``."""
    s = settings
    rows = protocol_departures(s, SHARMA_TABLE_42)
    rows += loss_departures(s)
    rows.append(
        Departure(
            "ECE",
            '15 bins, "sorted and partitioned" (equal-width or equal-mass not stated); mean over classes presumably',
            f"{s.n_bins} equal-width bins per class, then the mean over classes; adaptive (equal-mass) ECE beside it",
            "both readings are reported",
        )
    )
    rows.append(
        Departure(
            "temperature scaling",
            "one temperature by NLL, written with a softmax (the task is multi-label); fitted on not stated",
            "sigmoid temperatures by Bernoulli NLL on the validation logits: one for all classes, and one per class",
            "a softmax over five independent findings is not a probability model of them",
        )
    )
    rows.append(
        Departure(
            "MIMO",
            "described (Havasi et al.), no results",
            f"{s.mimo_members} members, input repetition {s.mimo_input_repetition:g}, against a single model and a "
            f"{s.mimo_members}-model ensemble on the same data",
            "the source gives no setting to follow",
        )
    )
    return departures_table(rows)
