"""Study 09: how this run differs from the source (Preechakul's PYLON thesis, chapters 5.6 and 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..departures import Departure, departures_table, protocol_departures
from ..pylon.departures import augmentation_departure, pylon_model_departures
from ..sources import PYLON_THESIS, PYLON_TRANSFER
from .settings import GAP_BASELINES

if TYPE_CHECKING:
    from .settings import PylonAblationSettings

__all__ = ["ablation_departures"]


def ablation_departures(settings: PylonAblationSettings) -> pd.DataFrame:
    """The "How this run differs from the source" table of notebook 09, from ``settings``."""
    s = settings
    rows = [r for r in protocol_departures(s, PYLON_THESIS, backbone=s.encoder) if r.item != "runs per arm"]
    rows.append(
        Departure(
            "seeds",
            "5 per model (Tables 6.1, 6.2 and 5.5)",
            f"Table 6.1: {len(s.gap_seeds)}; Table 6.2: {len(s.ablation_seeds)}; Table 5.5: {len(s.transfer_seeds)}",
            "a CPU profile's budget; the one-seed ablations are read against the base model's seed-to-seed range",
            differs=min(len(s.gap_seeds), len(s.ablation_seeds), len(s.transfer_seeds)) < 5,
        )
    )
    missing = [m for m in GAP_BASELINES if m not in s.gap_baselines]
    rows.append(
        Departure(
            "Table 6.1 (A), (C)",
            "PAN and DeepLabV3+ with and without the global pooling of their decoders",
            "not trained in this profile" if missing else "trained",
            "PAN needs 256-pixel images, beyond a CPU profile's budget; `full` trains them" if missing else "–",
            differs=bool(missing),
        )
    )
    rows.append(
        Departure(
            "transfer target",
            PYLON_TRANSFER.dataset_text,
            "a shifted SynthCXR set labelled by simulated readers (union of their boxes), split 70/15/15"
            if s.target_dataset == "synth-cxr"
            else f"{s.target_dataset}, split 70:10:20 by image as the thesis's"
            if s.target_dataset == "vindr"
            else f"{s.target_dataset}, its reader's split",
            "VinDr-CXR cannot be downloaded here; simulated readers give the same kind of noisy, unioned boxes"
            if s.target_dataset == "synth-cxr"
            else "–",
            differs=s.target_dataset != "vindr",
        )
    )
    extra = [m for m in ("li2018", "fpn") if m in s.transfer_baselines]
    rows.append(
        Departure(
            "transfer arms",
            "GMP, Li 2018, FPN and PYLON without transfer; GMP and PYLON fine-tuned from NIH; PYLON two-phase",
            "GMP"
            + "".join(f", {'Li 2018' if m == 'li2018' else 'FPN'}" for m in extra)
            + " and PYLON without transfer; GMP and PYLON fine-tuned from the source task; PYLON two-phase",
            "Li 2018's and FPN's arms without transfer cost two more fits per seed; `full` and "
            "`-p transfer_baselines li2018,fpn` train them"
            if len(extra) < 2
            else "–",
            differs=len(extra) < 2,
        )
    )
    rows.append(
        Departure(
            "without transfer starts from",
            "ImageNet weights",
            "ImageNet weights" if s.pretrained else "random weights",
            "so the fine-tune and two-phase gains here mix what pretraining gives with what two-phase does"
            if not s.pretrained
            else "–",
            differs=not s.pretrained,
        )
    )
    rows.append(augmentation_departure(s.augment))
    rows += pylon_model_departures(s, ("pylon", "gmp"))
    return departures_table(rows)
