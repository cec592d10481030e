"""Section 6, a shortcut probe, where the dataset marks regions: the share of the class maps' mass
outside the thorax (a model should not need what lies outside it) and on a marker the source planted
(SynthCXR's shortcut token), over the known positive findings."""

from __future__ import annotations

import numpy as np
import torch

from ..localization import heatmap_mass_in_mask
from .maps_pass import MapPass
from .section import ReportSection, absent

__all__ = ["shortcut_section"]

TITLE = "Shortcut probe: map mass where the model should not look"


def shortcut_section(maps: MapPass, labels: np.ndarray) -> ReportSection:
    """``labels (n, K)`` of the mapped images; the maps of their known positive findings are probed."""
    regions = {"thorax_mask": "outside the thorax", "marker_mask": "on the planted marker"}
    present = {k: v for k, v in regions.items() if k in maps.extras}
    if not present:
        return absent(
            "shortcut", TITLE, "the dataset marks no region the model should not need (no thorax or marker mask)"
        )
    section = ReportSection("shortcut", TITLE)
    positive = torch.as_tensor(np.nan_to_num(labels, nan=0.0) == 1)
    has_mass = maps.maps.clamp_min(0).flatten(2).sum(-1) > 0  # (n, K): a blank map has no mass to place
    blank = int((positive & ~has_mass).sum())
    if blank:
        section.notes.append(f"{blank} positive findings with a blank map (no positive mass) are left out.")
    positive = positive & has_mass
    rows = {}
    for name, where in present.items():
        masks = maps.extras[name]  # (n, H, W)
        images = masks.flatten(1).any(1) if name == "marker_mask" else torch.ones(len(masks), dtype=torch.bool)
        pairs = positive & images[:, None]
        if not pairs.any():
            section.notes.append(
                f"No mapped image carries a {where.split()[-1]} (the data were made without one): nothing to probe."
                if not images.any()
                else f"No positive finding on an image with a {where.split()[-1]}: nothing to probe there."
            )
            continue
        expanded = masks[:, None].expand(-1, maps.maps.shape[1], -1, -1)
        inside = heatmap_mass_in_mask(maps.maps.clamp_min(0), expanded)  # (n, K)
        share = (1 - inside) if name == "thorax_mask" else inside
        area = masks.flatten(1).float().mean(1)  # (n,) the region's share of the image
        area = (1 - area) if name == "thorax_mask" else area
        rows[f"map mass {where}"] = {
            "pairs": int(pairs.sum()),
            "mean share": float(share[pairs].mean()),
            "share of the image": float(area[:, None].expand_as(share)[pairs].mean()),
        }
    if not rows:
        return absent("shortcut", TITLE, "no positive finding to probe on the marked images")
    import pandas as pd

    table = pd.DataFrame.from_dict(rows, orient="index")
    section.tables["Share of the class maps' mass, over the known positive findings"] = table
    for what, row in table.iterrows():
        where, pairs = what.removeprefix("map mass "), int(row["pairs"])
        section.findings.append(
            f"On average {row['mean share']:.1%} of the map's mass lies {where} ({pairs:,} image–finding pairs), "
            f"a region that is {row['share of the image']:.1%} of the image (the share a uniform map would put there)."
        )
    section.notes.append(f"Maps: {maps.how}.")
    section.data = {"table": table.to_dict(orient="index")}
    return section
