"""Study 09: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ...models import decoder_parameters
from ..prose import bounded_ci
from ..pylon import (
    PylonResult,
    model_label,
)
from ..sources import PYLON_REFERENCE_PARAMETERS
from .settings import BASE, GAP_BASELINES, GAP_VARIANTS, PylonAblationSettings

__all__ = ["THESIS", "THESIS_CI", "PylonAblationResult"]


#: the thesis's numbers, quoted beside ours (weighted point accuracy on NIH at 256 px, Tables 6.1 and 6.2;
#: macro on VinDr, Table 5.5)
THESIS = {
    "pylon-up1": 0.62,
    "pylon-up1-no-pyramid": 0.60,
    "pylon-up1-3x3-up": 0.59,
    "pylon": 0.62,
    "pylon-up1-3x3-head": 0.57,
    "pylon-up1+gap-pa": 0.60,
    "pylon-up1+gap-up": 0.57,
    "pan": 0.38,
    "pan-no-gap-fpa": 0.61,
    "pan-no-gap-gau": 0.50,
    "pan-no-gap": 0.61,
    "deeplabv3plus": 0.45,
    "deeplabv3plus-no-gap": 0.44,
    "gmp (scratch)": 0.31,
    "li2018 (scratch)": 0.29,
    "fpn (scratch)": 0.36,
    "pylon (scratch)": 0.42,
    "pylon (fine-tuned)": 0.48,
    "pylon (two-phase)": 0.55,
}

#: the 95 % half-widths the thesis gives beside :data:`THESIS` (n = 5 seeds), Tables 6.1 and 6.2
THESIS_CI = {
    "pylon-up1": 0.01,
    "pylon-up1-no-pyramid": 0.02,
    "pylon-up1-3x3-up": 0.02,
    "pylon": 0.01,
    "pylon-up1-3x3-head": 0.02,
    "pylon-up1+gap-pa": 0.04,
    "pylon-up1+gap-up": 0.08,
    "pan": 0.17,
    "pan-no-gap-fpa": 0.04,
    "pan-no-gap-gau": 0.24,
    "pan-no-gap": 0.03,
    "deeplabv3plus": 0.05,
    "deeplabv3plus-no-gap": 0.04,
}


def thesis_text(model: str) -> str:
    """The thesis's weighted point accuracy of ``model`` as it prints it ("0.62 ± 0.01"), or "–"."""
    if model not in THESIS:
        return "–"
    return f"{THESIS[model]:.2f}" + (f" ± {THESIS_CI[model]:.2f}" if model in THESIS_CI else "")


@dataclass
class PylonAblationResult:
    settings: PylonAblationSettings
    ablation: PylonResult  #: PYLON, its ablations and +GAP variants on the source task
    transfer: PylonResult  #: the arms of Table 5.5 on the target task
    source_note: str = ""  #: where the transfer's source weights come from
    reader_agreement: pd.DataFrame | None = None
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def gap_models(self) -> list[str]:
        """The models of Table 6.1 in this run: PYLON (UP1), its +GAP variants, the GAP baselines."""
        return [m for m in (BASE, *GAP_VARIANTS, *GAP_BASELINES) if m in self.ablation.models]

    def seed_agreement(self, model: str) -> tuple[float, int]:
        """Mean Pearson correlation between the maps of two seeds of ``model`` for the boxed class of
        each boxed test finding, over every pair of seeds; and how many pairs of maps were compared.
        1 means every seed draws the same map; GAP's instability shows as a lower value."""
        runs = self.ablation._runs(model)
        test = self.ablation.test_data
        truth = test.truth_boxes().drop_duplicates(["image", "class"])
        position = {key: i for i, key in enumerate(test.table["image"])}
        pairs = [(position[i], self.ablation.classes.index(c)) for i, c in zip(truth["image"], truth["class"])]
        values = []
        for a in range(len(runs)):
            for b in range(a + 1, len(runs)):
                for i, k in pairs:
                    x, y = runs[a].maps[i, k].ravel(), runs[b].maps[i, k].ravel()
                    if x.std() > 0 and y.std() > 0:
                        values.append(float(np.corrcoef(x, y)[0, 1]))
        return (float(np.mean(values)) if values else float("nan")), len(values)

    def weighted_accuracies(self, model: str) -> list[float]:
        """Weighted point accuracy of each seed of ``model`` (part 1)."""
        return [float(run.localization.loc["weighted", "accuracy"]) for run in self.ablation._runs(model)]

    def spread(self, model: str) -> float | None:
        """Standard deviation (n − 1) of :meth:`weighted_accuracies` over seeds; None with one seed."""
        values = self.weighted_accuracies(model)
        return float(np.std(values, ddof=1)) if len(values) > 1 else None

    def ablation_table(self) -> pd.DataFrame:
        """Tables 6.1 and 6.2 in one: per model, point accuracy (weighted, macro; mean ± 95 % over
        seeds), the spread over seeds (standard deviation of the weighted accuracy), the seeds'
        map agreement, macro AUROC and the thesis's number where it has one."""
        r = self.ablation
        rows = {}
        for m in r.models:
            agreement, _ = self.seed_agreement(m)
            spread = self.spread(m)
            rows[m] = {
                "seeds": len(r._runs(m)),
                "weighted point acc.": bounded_ci(*r.localization_stats(m, "weighted")),
                "macro point acc.": bounded_ci(*r.localization_stats(m, "macro")),
                "s.d. of weighted point acc.": "–" if spread is None else f"{spread:.3f}",
                "map agreement": "–" if not np.isfinite(agreement) else f"{agreement:.2f}",
                "macro AUROC": bounded_ci(*r.auroc_stats(m, "mean")),
                "thesis: weighted point acc. (NIH)": thesis_text(m),
            }
        return pd.DataFrame(rows).T.rename(index=model_label)

    def parameters_table(self) -> pd.DataFrame:
        """Per model of part 1, the parameters outside the encoder (convolution biases left out): this
        run's model, and the thesis's configuration in the reference code (ResNet-50, 14 classes), so a
        reader can check that each row is the thesis's model."""
        r = self.ablation
        rows = {
            m: {
                "this run": f"{decoder_parameters(r.trained[m]):,}" if m in r.trained else "–",
                "thesis's configuration (reference code)": f"{PYLON_REFERENCE_PARAMETERS[m]:,}"
                if m in PYLON_REFERENCE_PARAMETERS
                else "–",
            }
            for m in r.models
        }
        table = pd.DataFrame(rows).T.rename(index=model_label)
        table.columns.name = "parameters outside the encoder"
        return table

    def seeds_table(self) -> pd.DataFrame:
        """One row per trained model of part 1: model, seed, weighted point accuracy, macro AUROC."""
        return pd.DataFrame(
            [
                {
                    "model": model_label(run.model),
                    "seed": run.seed,
                    "weighted point acc.": run.localization.loc["weighted", "accuracy"],
                    "macro AUROC": run.auroc["mean"],
                }
                for run in self.ablation.runs
            ]
        )

    def seeds_figure(self):
        """Every trained model of part 1 as a dot: weighted point accuracy and macro AUROC per model."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        table = self.seeds_table()
        order = [model_label(m) for m in self.ablation.models]
        fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(order) + 1.6), sharey=True)
        for ax, value in zip(axes, ("weighted point acc.", "macro AUROC"), strict=True):
            sns.stripplot(data=table, x=value, y="model", order=order, hue="seed", palette="deep", s=8, ax=ax)
            ax.set_title(f"{value} (one dot per seed)", fontsize=11)
            ax.grid(axis="x", alpha=0.3)
            ax.set_ylabel("")
            ax.legend(title="seed", fontsize=9, frameon=False, loc="lower right")
        fig.tight_layout()
        return fig

    def gap_maps_figure(self, examples: int = 2):
        """The same boxed test findings (the classes with the smallest boxes first) as mapped by each
        seed of PYLON and of its +GAP variants: one row per finding and model, one column per seed. The
        stability of Table 6.1 made visible; None without a boxed finding."""
        from ... import plots
        from ..pylon import MAP_LABEL

        r = self.ablation
        test = r.test_data
        truth = test.truth_boxes()
        if truth.empty:
            return None
        first = truth.assign(area=truth["w"] * truth["h"]).sort_values("area").drop_duplicates("class").head(examples)
        position = {key: i for i, key in enumerate(test.table["image"])}
        seeds = sorted({run.seed for m in self.gap_models for run in r._runs(m)})
        rows, labels, class_index, boxes = [], [], [], []
        for key, c in zip(first["image"], first["class"], strict=True):
            for m in self.gap_models:
                rows.append((position[key], m))
                labels.append(f"{c}: {model_label(m)}")
                class_index.append(r.classes.index(c))
                boxes.append(truth[(truth["image"] == key) & (truth["class"] == c)])
        images = torch.stack([test[i]["image"] for i, _ in rows])
        maps = {}
        for seed in seeds:
            by_model = {run.model: run.maps for m in self.gap_models for run in r._runs(m) if run.seed == seed}
            template = next(iter(by_model.values()))
            maps[f"seed {seed}"] = np.stack(
                [by_model[m][i] if m in by_model else np.zeros_like(template[i]) for i, m in rows]
            )
        return plots.saliency_overlays(
            images, maps, r.classes, class_index, boxes, panel=2.2, value_label=MAP_LABEL, row_labels=labels
        )

    def transfer_table(self) -> pd.DataFrame:
        """Table 5.5: point accuracy on the target (macro first, as the thesis reports VinDr; then
        weighted and per class), mean ± 95 % over transfer seeds, and the thesis's macro number."""
        table = self.transfer.localization_table()  # rows: the arms (by their reader's names), then the boxes
        cols = ["Macro avg.", "Weighted avg.", *self.transfer.classes]
        table = table[cols]
        keys = [*self.transfer.models, None]
        table.insert(1, "thesis (VinDr, macro)", [f"{THESIS[k]:.2f}" if k in THESIS else "" for k in keys])
        return table
