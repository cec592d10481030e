"""Study 01: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..common import (
    boxed_overlay_figure,
    mean_ci,
)
from .settings import BaselineSettings, model_settings

__all__ = ["NOTEBOOK", "BackboneRun", "BaselineResult"]

#: the notebook whose results and artifacts this study writes
NOTEBOOK = "01_baseline"


@dataclass
class BackboneRun:
    backbone: str
    seed: int
    history: pd.DataFrame
    auroc: pd.Series  # per class + "mean"
    localization: pd.DataFrame  # point localisation per class
    mass_in_mask: pd.Series  # per class, mean share of Grad-CAM mass inside the truth mask
    train_seconds: float
    maps: np.ndarray  # (N_test, K, h, w) Grad-CAM
    probs: np.ndarray  # (N_test, K)


@dataclass
class BaselineResult:
    settings: BaselineSettings
    classes: list[str]
    runs: list[BackboneRun]
    test_keys: list[str]
    test_data: object = None  # the test CXRDataset
    headline: dict = field(default_factory=dict)
    localization_note: str = "available"  #: "available", or why localisation is not measured
    run: dict = field(default_factory=dict)  #: the run header (see ``cxrlib.studies.runinfo``)
    uniform_mass: pd.Series | None = None  #: per class, a uniform map's mass in mask (None without masks)
    trained: dict[str, torch.nn.Module] = field(default_factory=dict, repr=False)  #: first seed's model per backbone

    def save_weights(self, notebook: str = NOTEBOOK) -> str:
        """Save the first seed's trained model of every backbone as the artifact ``weights`` of ``notebook``,
        with the settings that trained them (:func:`~.settings.model_settings`), for the reliability report
        of notebook 10 (:mod:`cxrlib.studies.reliability_report`). Returns the artifact's path."""
        from ...artifacts import save_artifact

        models = {
            name: {key: value.detach().cpu() for key, value in model.state_dict().items()}
            for name, model in self.trained.items()
        }
        meta = {
            "settings": model_settings(self.settings),
            "profile": self.settings.profile,
            "seed": self.settings.seeds[0],
            "n_train": int(self.run.get("n_train", 0)),
            "classes": list(self.classes),
        }
        return str(save_artifact(notebook, "weights", {"models": models, "meta": meta}))

    @property
    def localization_available(self) -> bool:
        return self.localization_note == "available"

    def overlay_figure(self, per_class: int = 1):
        """Grad-CAM overlays of every backbone (first seed) on ``per_class`` boxed test images per
        class, with the truth boxes; None when no test image has a box."""
        first = self.settings.seeds[0]
        maps = {r.backbone: r.maps for r in self.runs if r.seed == first}
        return boxed_overlay_figure(self.test_data, maps, per_class)

    def summary(self) -> pd.DataFrame:
        """One row per backbone: mean AUROC, point accuracy and mask share (mean, and the 95% CI
        half-width across seeds when there are several)."""
        several = len(set(r.seed for r in self.runs)) > 1
        rows = []
        for bb in dict.fromkeys(r.backbone for r in self.runs):
            runs = [r for r in self.runs if r.backbone == bb]
            row = {"backbone": bb, "seeds": len(runs)}
            for name, values in {
                "mean AUROC": [r.auroc["mean"] for r in runs],
                "point loc. acc.": [r.localization.loc["weighted", "accuracy"] for r in runs],
                "CAM mass in mask": [r.mass_in_mask.mean() for r in runs],
                "training time (s)": [round(r.train_seconds) for r in runs],
            }.items():
                mean, half = mean_ci(values)
                row[name] = mean
                if several:
                    row[f"{name} ±95%"] = half
            rows.append(row)
        return pd.DataFrame(rows).set_index("backbone")

    def per_class_auroc(self) -> pd.DataFrame:
        return pd.DataFrame({f"{r.backbone} (seed {r.seed})": r.auroc for r in self.runs}).T

    def per_class_localization(self) -> pd.DataFrame:
        """Point localisation accuracy per class (rows) and run (columns), with the flat-map count."""
        columns = {}
        for r in self.runs:
            columns[f"{r.backbone} s{r.seed}"] = r.localization["accuracy"]
            columns[f"{r.backbone} s{r.seed}: flat maps"] = r.localization["flat"]
        table = pd.DataFrame(columns)
        table.insert(0, "boxes", self.runs[0].localization["n"] if self.runs else 0)
        return table

    def mass_in_mask_table(self) -> pd.DataFrame:
        """Grad-CAM mass inside the truth mask per class and run, beside the uniform map's share."""
        table = pd.DataFrame({f"{r.backbone} s{r.seed}": r.mass_in_mask for r in self.runs})
        if self.uniform_mass is not None:
            table["uniform map (chance)"] = self.uniform_mass
        return table
