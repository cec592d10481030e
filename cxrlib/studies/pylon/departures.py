"""Study 08: how this run differs from the source (Preechakul's PYLON thesis, chapter 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ...models.pylon import pyramid_levels
from ..departures import Departure, departures_table, protocol_departures
from ..sources import PYLON_THESIS

if TYPE_CHECKING:
    from .settings import PylonSettings

__all__ = ["pylon_departures", "pylon_model_departures", "augmentation_departure"]

#: the thesis's augmentation (§5.3)
THESIS_AUGMENTATION = (
    "rotation up to 90°, horizontal flip, brightness and contrast in (0.5, 1.5), a random crop of 0.7–1.0 of "
    "the image with aspect 3:4–4:3"
)


def augmentation_departure(augment: bool) -> Departure:
    """The augmentation row of 08's and 09's tables."""
    return Departure(
        "augmentation",
        THESIS_AUGMENTATION,
        "the thesis's" if augment else "none",
        "a CPU profile's few epochs on small images learn faster without it; `full` uses it" if not augment else "–",
        differs=not augment,
    )


def pylon_model_departures(s, models: tuple[str, ...]) -> list[Departure]:
    """The rows about the networks that 08 and 09 share: the pyramid at this size, and the baselines'
    details where ``models`` has them."""
    rows = []
    levels = pyramid_levels(s.image_size)
    spatial = [f"{h}×{w}" for h, w in levels[1:] if h * w > 1]
    rows.append(
        Departure(
            "pyramid attention",
            "at 256 px an 8×8 bottleneck pooled to 4×4, 2×2 and 1×1",
            f"at {s.image_size} px a {levels[0][0]}×{levels[0][1]} bottleneck pooled to "
            + ", ".join(f"{h}×{w}" for h, w in levels[1:]),
            "at this size the attention is one number per image (notebook 08 shows it); 256 px does not fit a CPU "
            "profile's budget"
            if len(spatial) < 2
            else "–",
            differs=len(spatial) < 2,
        )
    )
    if "li2018" in models:
        rows.append(
            Departure(
                "Li 2018's grid",
                "a fixed 20×20 patch grid",
                "20 cells per 256 px, so the grid scales with the image (5×5 at 64 px)",
                "a fixed 20×20 grid on a 2×2 feature map at 64 px would be nearly all interpolation",
            )
        )
    return rows


def pylon_departures(settings: PylonSettings) -> pd.DataFrame:
    """The "How this run differs from the source" table of notebook 08, from ``settings``."""
    s = settings
    rows = protocol_departures(s, PYLON_THESIS, backbone=s.encoder)
    classes = s.classes if isinstance(s.classes, str) else ", ".join(s.classes)
    rows.append(
        Departure(
            "classes trained",
            "all 14 NIH classes (the 8 boxed ones scored for localisation)",
            classes,
            "SynthCXR draws the 8 boxed findings; Table 5.4's AUROC over 14 classes is therefore not comparable"
            if s.dataset == "synth-cxr"
            else "Table 5.4's AUROC is over the classes trained here",
            differs=classes != "all",
        )
    )
    rows.append(augmentation_departure(s.augment))
    rows.append(
        Departure(
            "input size of Table 5.3",
            "512 px",
            f"{s.image_size} px: the scorecard's 512-px rows say so",
            "`-p image_size 512` runs it",
            differs=s.image_size != 512,
        )
    )
    rows.append(
        Departure(
            "precision",
            "mixed precision (fp16)",
            "float32 on a CPU; bf16 autocast on a GPU",
            "bf16 has float32's range, so it needs no loss scaling; on a CPU autocast would only slow training",
        )
    )
    rows += pylon_model_departures(s, s.models)
    return departures_table(rows)
