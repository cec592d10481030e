"""Study 01: how this run differs from the source (Sharma and Pradeep P. 2023, Table 4.1's CE arm, §4.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..departures import Departure, departures_table, protocol_departures
from ..sources import SHARMA_TABLE_41

if TYPE_CHECKING:
    from .settings import BaselineSettings

__all__ = ["baseline_departures"]

SOURCE_BACKBONES = ("densenet121", "resnet101", "vgg19")


def baseline_departures(settings: BaselineSettings) -> pd.DataFrame:
    """The "How this run differs from the source" table of notebook 01, from ``settings``."""
    s = settings
    rows = protocol_departures(s, SHARMA_TABLE_41)  # the settings name several backbones: no "network" row
    rows.insert(
        2,  # after data and image size, where the other studies' "network" row stands
        Departure(
            "networks",
            ", ".join(SOURCE_BACKBONES),
            ", ".join(s.backbones),
            "three deep networks from scratch do not fit a CPU profile; `full` trains the source's three",
            differs=tuple(sorted(s.backbones)) != tuple(sorted(SOURCE_BACKBONES)),
        ),
    )
    rows.append(
        Departure(
            "uncertain labels",
            "1 for Cardiomegaly and Edema, 0 for the other three",
            s.label_policy or "the reader's default",
            "–",
            differs=s.label_policy != "sharma2023",
        )
    )
    rows.append(
        Departure(
            "loss weights",
            "weighted cross-entropy, weights not stated",
            "weighted BCE, positive weight n_negative / n_positive per class (training split)",
            "the usual choice; the source gives none",
        )
    )
    grid = f"output stride {s.output_stride}" if s.output_stride else "each backbone's own stride"
    rows.append(
        Departure(
            "Grad-CAM grid",
            "not stated (the backbones' own: 7×7 at 224 px for DenseNet-121 and ResNet-101)",
            grid,
            "at 64 px a stride-32 map is 2×2; dilating the last blocks keeps every weight and gives 8×8",
            differs=s.output_stride is not None,
        )
    )
    if "vgg19" in s.backbones:
        rows.append(
            Departure(
                "VGG-19 head",
                "not stated",
                "conv5 features without the last max-pool (stride 16), global average pooling, one linear layer",
                "a CAM-ready head like the other backbones'; VGG's 4096-unit classifier has no class maps",
            )
        )
    return departures_table(rows)
