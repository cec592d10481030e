"""Study 00: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ...data import CXRDataset
from .settings import DataSettings

__all__ = ["DataOverview"]


@dataclass
class DataOverview:
    settings: DataSettings
    dataset: CXRDataset
    label_counts: pd.DataFrame
    sizes: pd.DataFrame
    audit: pd.DataFrame
    image_level_leaks: int
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)  #: the run header (see ``cxrlib.studies.runinfo``)

    def describe_shortcut(self) -> str:
        """How the shortcut marker relates to its class, from the data (Markdown); empty without one."""
        config = self.dataset.info.get("config")
        spec = getattr(config, "shortcut", None)
        if spec is None or "truth" not in self.dataset.info:
            return ""
        marker = self.dataset.table["shortcut_marker"].to_numpy(bool)
        truth = self.dataset.info["truth"][spec.class_name].to_numpy() == 1
        agree = (marker == truth).mean()
        sensitivity = marker[truth].mean() if truth.any() else float("nan")
        ppv = truth[marker].mean() if marker.any() else float("nan")
        return (
            f"The marker agrees with the true {spec.class_name} label on {agree:.0%} of images (requested "
            f"{spec.rate:.0%}), but {spec.class_name} is rare ({truth.mean():.0%}), so agreement alone says "
            f"little: the marker is on {sensitivity:.0%} of the images with {spec.class_name} and only "
            f"{ppv:.0%} of the images that carry it have {spec.class_name}. A model that reads it gains "
            "sensitivity without looking at the lung."
        )

    def sizes_table(self) -> pd.DataFrame:
        """:attr:`sizes` as the page shows it: named columns, two decimals, the columns the source has
        (no all-NaN mask columns for a source without masks), counts as integers."""
        names = {
            "count": "masks measured",
            "mask_%_min": "mask % of image (min)",
            "mask_%_median": "mask % (median)",
            "mask_%_max": "mask % (max)",
            "box_%_median": "box % of image (median)",
            "boxes": "boxes",
        }
        table = self.sizes.dropna(axis=1, how="all").round(2)
        for column in ("count", "boxes"):
            if column in table and table[column].notna().all():
                table[column] = table[column].astype(int)
        table = table.rename(columns=names)
        table.index.name = "finding"
        return table

    def describe_sizes(self) -> str:
        """One sentence on the smallest and largest findings, written from ``sizes`` (Markdown)."""
        column = "mask_%_median" if self.sizes["mask_%_median"].notna().any() else "box_%_median"
        what = "mask" if column.startswith("mask") else "truth box"
        sizes = self.sizes[column].dropna().sort_values()
        if sizes.empty:
            return f"{self.dataset.name} has neither masks nor truth boxes: finding sizes are not measured."
        side = self.dataset.image_size[0]
        small, large = sizes.index[0], sizes.index[-1]
        pixels = sizes.iloc[0] / 100 * side * side
        return (
            f"By median {what} area, the smallest finding here is **{small}** ({sizes.iloc[0]:.2f} % of the "
            f"image, about {pixels:.0f} pixels at {side} px) and the largest **{large}** "
            f"({sizes.iloc[-1]:.2f} %). At 64 px the same {small.lower()} covers about "
            f"{sizes.iloc[0] / 100 * 64 * 64:.0f} pixels."
        )
