"""Study 04: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..common import (
    boxed_overlay_figure,
    mean_ci,
    seed_mean_and_half_width,
)
from ..prose import with_ci
from .settings import LOSS_LABELS, ImbalanceLossSettings, Loss

__all__ = ["NOTEBOOK", "LossRun", "SweepRun", "ImbalanceLossResult", "map_cosine", "headline"]


#: the notebook whose results and artifacts this study writes
NOTEBOOK = "04_imbalance_losses"


@dataclass
class LossRun:
    loss: str  #: "wbce", "focal" or "aucm"
    label: str  #: "CE", "Focal", "AUC-M"
    seed: int
    history: pd.DataFrame  #: the loss's own epochs (AUC-M: the fine-tuning stage)
    auroc: pd.Series  #: test, per class + "mean"
    average_precision: pd.Series  #: test, per class + "mean"
    train_seconds: float  #: the whole training (AUC-M: the CE stage + fine-tuning)
    val_logits: np.ndarray  #: (N_val, K)
    val_labels: np.ndarray
    test_logits: np.ndarray  #: (N_test, K)
    test_labels: np.ndarray
    maps: np.ndarray | None = None  #: (N_test, K, h, w) Grad-CAM
    localization: float = float("nan")  #: weighted point localisation accuracy on the test boxes


@dataclass
class SweepRun:
    loss: str
    label: str
    seed: int
    prevalence: float  #: the requested training prevalence of the swept class
    train_prevalence: float  #: realised
    n_train: int
    n_positive: int
    auroc: float  #: test AUROC of the swept class
    average_precision: float  #: test AUPRC of the swept class
    mean_auroc_others: float  #: test mean AUROC of the other classes


@dataclass
class ImbalanceLossResult:
    settings: ImbalanceLossSettings
    classes: list[str]
    runs: list[LossRun]
    sweep: list[SweepRun] = field(default_factory=list)
    sweep_info: dict = field(default_factory=dict)  #: class, training size, pool, test prevalence
    train_prevalence: pd.Series | None = None  #: per class, share of positives among known training labels
    test_data: object = None
    artifact: str | None = None  #: where the logits were saved
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(r.label for r in self.runs))

    def _of(self, label: str) -> list[LossRun]:
        return [r for r in self.runs if r.label == label]

    def _ce(self) -> dict[int, LossRun]:
        return {r.seed: r for r in self.runs if r.loss == Loss.WBCE.value}

    def paired_difference(self, label: str, metric: str = "mean") -> tuple[float, float]:
        """Mean and 95% half-width over seeds of ``label``'s test AUROC (``metric``: a class or "mean")
        minus CE's of the same seed; (nan, nan) without CE runs."""
        ce = self._ce()
        diffs = [r.auroc[metric] - ce[r.seed].auroc[metric] for r in self._of(label) if r.seed in ce]
        return mean_ci(diffs) if diffs else (float("nan"), float("nan"))

    def map_similarity_to_ce(self, label: str) -> tuple[float, float]:
        """Mean (± 95% half-width over seeds) cosine similarity between ``label``'s Grad-CAM maps and the
        CE model's of the same seed, on the positive test findings; for CE itself, between CE models
        of different seeds (the reference: how alike two runs of one loss are)."""
        ce = self._ce()
        if label == LOSS_LABELS[Loss.WBCE.value]:
            seeds = sorted(s for s in ce if ce[s].maps is not None)
            values = [
                map_cosine(ce[a].maps, ce[b].maps, ce[a].test_labels)
                for i, a in enumerate(seeds)
                for b in seeds[i + 1 :]
            ]
        else:
            values = [
                map_cosine(r.maps, ce[r.seed].maps, r.test_labels)
                for r in self._of(label)
                if r.seed in ce and r.maps is not None and ce[r.seed].maps is not None
            ]
        return mean_ci(values) if values else (float("nan"), float("nan"))

    def summary(self) -> pd.DataFrame:
        """One row per loss: means over seeds with 95% Student-t half-widths, the paired difference to
        CE, Grad-CAM similarity and localisation, training time."""
        rows = []
        for label in self.labels:
            runs = self._of(label)
            row: dict = {"loss": label, "seeds": len(runs)}
            row["mean AUROC"], row["mean AUROC ±95%"] = mean_ci([r.auroc["mean"] for r in runs])
            row["Δ AUROC vs CE (paired)"], row["Δ ±95%"] = self.paired_difference(label)
            row["mean AUPRC"] = float(np.mean([r.average_precision["mean"] for r in runs]))
            row["Grad-CAM cosine to CE"] = self.map_similarity_to_ce(label)[0]
            row["point loc. acc."] = mean_ci([r.localization for r in runs])[0]
            row["training s"] = float(np.mean([r.train_seconds for r in runs]))
            rows.append(row)
        return pd.DataFrame(rows).set_index("loss")

    def per_class_auroc(self) -> pd.DataFrame:
        """Table 4.2: test AUROC per class and mean (columns) per loss (rows), mean over seeds."""
        return seed_mean_and_half_width({label: [r.auroc for r in self._of(label)] for label in self.labels})[0]

    def per_class_auroc_ci(self) -> pd.DataFrame:
        """The 95% half-widths of :meth:`per_class_auroc` over seeds (NaN with one seed)."""
        return seed_mean_and_half_width({label: [r.auroc for r in self._of(label)] for label in self.labels})[1]

    def table_4_2(self) -> pd.DataFrame:
        """Table 4.2 as text cells "mean ± half-width" (the half-width left out with one seed)."""
        mean, half = self.per_class_auroc(), self.per_class_auroc_ci()
        return pd.DataFrame(
            {c: [with_ci(mean.loc[i, c], half.loc[i, c]) for i in mean.index] for c in mean.columns}, index=mean.index
        )

    def sweep_table(self) -> pd.DataFrame:
        """The prevalence sweep: one row per training prevalence and loss, means over the sweep seeds."""
        if not self.sweep:
            return pd.DataFrame()
        frame = pd.DataFrame([vars(r) for r in self.sweep])
        table = frame.groupby(["prevalence", "label"], sort=False).agg(
            train_prevalence=("train_prevalence", "mean"),
            positives=("n_positive", "mean"),
            AUROC=("auroc", "mean"),
            AUPRC=("average_precision", "mean"),
            other_classes_AUROC=("mean_auroc_others", "mean"),
            seeds=("seed", "count"),
        )
        return table.sort_index(level=0, sort_remaining=False)

    def sweep_display_table(self) -> pd.DataFrame:
        """:meth:`sweep_table` as the page shows it: named columns, counts as integers, three decimals."""
        table = self.sweep_table()
        if table.empty:
            return table
        table = table.rename(
            columns={
                "train_prevalence": "realised training prevalence",
                "positives": "training positives",
                "other_classes_AUROC": "mean AUROC, other classes",
            }
        ).round(3)
        table["seeds"] = table["seeds"].astype(int)
        positives = table["training positives"]
        if (positives == positives.round()).all():
            table["training positives"] = positives.astype(int)
        table.index.names = ["training prevalence", "loss"]
        return table

    def sweep_figure(self):
        """Test AUROC and AUPRC of the swept class against its training prevalence (log axis), one line
        per loss; chance levels dotted. None without a sweep."""
        import matplotlib.pyplot as plt

        if not self.sweep:
            return None
        frame = pd.DataFrame([vars(r) for r in self.sweep])
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        chance = {"auroc": 0.5, "average_precision": self.sweep_info.get("test_prevalence", float("nan"))}
        for ax, (metric, name) in zip(axes, (("auroc", "AUROC"), ("average_precision", "AUPRC")), strict=True):
            for label, part in frame.groupby("label", sort=False):
                mean = part.groupby("prevalence")[metric].mean()
                line = ax.plot(mean.index, mean.values, "-o", ms=4, label=label)[0]
                if part["seed"].nunique() > 1:
                    ax.scatter(part["prevalence"], part[metric], s=10, alpha=0.4, color=line.get_color())
            if np.isfinite(chance[metric]):
                ax.axhline(chance[metric], color="gray", lw=0.8, ls=":", label="chance")
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(sorted(frame["prevalence"].unique()))
            ax.set_xticklabels([f"{p:.0%}" if p >= 0.01 else f"{p:.1%}" for p in sorted(frame["prevalence"].unique())])
            ax.set(xlabel=f"training prevalence of {self.sweep_info.get('class', '?')}", ylabel=f"test {name}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="best")
        fig.suptitle(
            f"{self.sweep_info.get('class', '?')}: {self.sweep_info.get('n_train', '?')} training images at every "
            f"prevalence; test prevalence {self.sweep_info.get('test_prevalence', float('nan')):.2f}",
            fontsize=11,
        )
        fig.tight_layout()
        return fig

    def overlay_figure(self, per_class: int = 1):
        """Grad-CAM overlays of every loss (first seed) on the same boxed test images (Fig 4.6)."""
        first = self.settings.seeds[0]
        maps = {r.label: r.maps for r in self.runs if r.seed == first and r.maps is not None}
        return boxed_overlay_figure(self.test_data, maps, per_class) if maps else None

    def histories(self) -> dict[str, pd.DataFrame]:
        return {f"{r.label} seed {r.seed}": r.history for r in self.runs if len(r.history)}


def map_cosine(a: np.ndarray, b: np.ndarray, labels: np.ndarray) -> float:
    """Mean cosine similarity between two models' maps ``(N, K, h, w)`` over the (image, class) pairs
    whose label is positive and where neither map is flat (all zero); NaN when there is none."""
    pos = np.asarray(labels) == 1
    if not pos.any():
        return float("nan")
    x = np.asarray(a, np.float64)[pos].reshape(int(pos.sum()), -1)
    y = np.asarray(b, np.float64)[pos].reshape(int(pos.sum()), -1)
    nx, ny = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
    keep = (nx > 0) & (ny > 0)
    if not keep.any():
        return float("nan")
    return float(np.mean((x[keep] * y[keep]).sum(1) / (nx[keep] * ny[keep])))


def headline(result: ImbalanceLossResult) -> dict:
    s, summary = result.settings, result.summary()
    mean, half = result.per_class_auroc(), result.per_class_auroc_ci()
    losses = {}
    for label in summary.index:
        runs = result._of(label)
        row = summary.loc[label]
        losses[runs[0].loss] = {
            "label": label,
            "mean_auroc": float(row["mean AUROC"]),
            "mean_auroc_ci95": float(row["mean AUROC ±95%"]),
            "per_class_auroc": {c: float(mean.loc[label, c]) for c in result.classes},
            "per_class_auroc_ci95": {c: float(half.loc[label, c]) for c in result.classes},
            "auroc_minus_ce_paired": float(row["Δ AUROC vs CE (paired)"]),
            "auroc_minus_ce_paired_ci95": float(row["Δ ±95%"]),
            "mean_average_precision": float(row["mean AUPRC"]),
            "grad_cam_cosine_to_ce": float(row["Grad-CAM cosine to CE"]),
            "point_localization_accuracy": float(row["point loc. acc."]),
            "train_seconds": float(row["training s"]),
            "seeds": len(runs),
        }
    sweep = None
    if result.sweep:
        table = result.sweep_table().reset_index()
        sweep = dict(result.sweep_info)
        sweep["points"] = [
            {
                "prevalence": float(r["prevalence"]),
                "loss": next(x.loss for x in result.sweep if x.label == r["label"]),
                "train_prevalence": float(r["train_prevalence"]),
                "auroc": float(r["AUROC"]),
                "average_precision": float(r["AUPRC"]),
            }
            for _, r in table.iterrows()
        ]
    return {
        "run": result.run,
        "dataset": s.dataset,
        "profile": s.profile,
        "backbone": s.backbone,
        "train_prevalence": {c: float(v) for c, v in result.train_prevalence.items()},
        "losses": losses,
        "sweep": sweep,
        "artifact": f"{NOTEBOOK}/logits",
    }
