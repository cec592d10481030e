"""Study 04: how this run differs from the source (Sharma and Pradeep P. 2023, §3.4, 4.6, Table 4.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..departures import Departure, departures_table, protocol_departures
from ..sources import SHARMA_TABLE_42

if TYPE_CHECKING:
    from .settings import ImbalanceLossSettings

__all__ = ["imbalance_loss_departures", "loss_departures"]


def loss_departures(settings) -> list[Departure]:
    """The rows on the losses themselves, shared by studies 04 and 05 (which trains the same models)."""
    s = settings
    rows = []
    if "focal" in s.losses:
        alpha = "unweighted" if s.focal_alpha is None else f"α = {s.focal_alpha:g}"
        rows.append(
            Departure(
                "focal loss",
                "−Σ (1 − p)^γ log p; γ and α not stated",
                f"the multi-label sigmoid focal loss, γ = {s.focal_gamma:g}, {alpha}",
                "γ = 2 is the value of Lin et al.'s focal-loss paper",
            )
        )
    if "aucm" in s.losses:
        rows.append(
            Departure(
                "DeepAUC",
                "LibAUC's AUC-M surrogate trained like every other loss (\"Adam ... 1e-4 ... 5 epochs across all "
                'loss functions"); PESG not named, margin not stated',
                f"LibAUC's recipe: the CE arm's weights (at most {s.epochs} epochs), a fresh head, then at most "
                f"{s.auc_epochs} epochs of AUC-M (margin {s.auc_margin:g}) with PESG at lr {s.auc_lr:g}"
                if s.auc_recipe == "libauc"
                else f"the source's: AUC-M (margin {s.auc_margin:g}) from the start, Adam at lr {s.lr:g} for at "
                f"most {s.epochs} epochs like every loss, with a, b, α at their optimum for each batch",
                "AUC-M's min-max objective needs PESG's ascent step on α, which Adam does not take; so the "
                "source's DeepAUC numbers (worst AUROC 0.829, worst ECE 0.235) may reflect a different "
                "training and are the rows least comparable with ours (`-p auc_recipe source` trains the "
                "source's reading)"
                if s.auc_recipe == "libauc"
                else "Adam cannot take PESG's ascent step on α, so the inner min-max is solved in closed form per "
                "batch; the margin is LibAUC's default",
            )
        )
    return rows


def imbalance_loss_departures(settings: ImbalanceLossSettings) -> pd.DataFrame:
    """The "How this run differs from the source" table of notebook 04, from ``settings``."""
    s = settings
    rows = protocol_departures(s, SHARMA_TABLE_42)
    rows += loss_departures(s)
    prevalence = "SynthCXR's CheXpert-like per-class defaults" if s.prevalence is None else f"{s.prevalence:g}"
    if s.dataset == "synth-cxr":
        rows.append(
            Departure(
                "prevalence",
                "CheXpert's own",
                prevalence,
                "synthetic data let the imbalance be set; the prevalence sweep changes it for one class",
            )
        )
    return departures_table(rows)
