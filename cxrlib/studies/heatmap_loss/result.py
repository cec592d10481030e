"""Study 03: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...data import CXRDataset
from ...stats import GroupComparison, compare_groups
from ..prose import fmt, p_value
from .settings import ARMS, CCE_ARM, SCORES, HeatmapLossSettings

__all__ = ["ModelScore", "HeatmapLossResult", "headline"]


@dataclass
class ModelScore:
    experiment: str
    arm: str
    index: int  #: the model's seed
    lr: float
    kept: bool  #: passed the validation-accuracy threshold (always True in experiment 3)
    scores: dict[str, float]
    history: pd.DataFrame
    seconds: float


@dataclass
class HeatmapLossResult:
    settings: HeatmapLossSettings
    models: list[ModelScore]
    examples: dict[str, dict] = field(default_factory=dict)  #: experiment → images and maps for figures
    datasets: dict[str, CXRDataset] = field(default_factory=dict)  #: experiment → its training dataset
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    def table(self, experiment: str | None = None) -> pd.DataFrame:
        """One row per trained model: experiment, arm, seed, lr, kept and its scores."""
        rows = [
            {"experiment": m.experiment, "arm": m.arm, "seed": m.index, "lr": m.lr, "kept": m.kept, **m.scores}
            for m in self.models
            if experiment is None or m.experiment == experiment
        ]
        return pd.DataFrame(rows)

    def models_table(self, experiment: str) -> pd.DataFrame:
        """:meth:`table` of one experiment as the page shows it: one row per (arm, seed), the learning
        rate, whether the model passed the validation threshold ("yes"/"no") and only the scores that
        experiment measures, three decimals."""
        table = self.table(experiment)
        scores = [c for c in SCORES[experiment] if c in table.columns]
        table = table.set_index(["arm", "seed"])[["lr", "kept", *scores]]
        table["kept"] = table["kept"].map({True: "yes", False: "no"})
        return table.round(3)

    def long_table(self, experiment: str) -> pd.DataFrame:
        """The compared scores of ``experiment``'s kept models in long form: arm, score, value."""
        table = self.table(experiment)
        table = table[table["kept"]]
        return table.melt(id_vars=["arm", "seed"], value_vars=list(SCORES[experiment]), var_name="score")

    def data_figure(self, experiment: str, per_class: int = 2):
        """``per_class`` test images of each class of ``experiment``'s dataset, with their masks and boxes."""
        from ... import plots

        ds = self.datasets.get(experiment)
        if ds is None:
            return None
        test = ds.subset("test")
        labels = test.labels
        positions = [int(i) for k in range(len(test.classes)) for i in np.flatnonzero(labels[:, k] == 1)[:per_class]]
        return plots.image_gallery(test, positions, ncols=4, caption=f"{ds.name}, experiment {experiment}: test images")

    def overlay_figure(self, experiment: str):
        """HiResCAM of both arms' first kept model on the example test images of ``experiment``."""
        from ... import plots

        ex = self.examples.get(experiment)
        if not ex or not ex["maps"]:
            return None
        return plots.saliency_overlays(
            ex["images"],
            ex["maps"],
            ex["classes"],
            ex["class_index"],
            value_label="HiResCAM (min-max normalised)",
            contours=ex.get("contours"),
        )

    def comparison(self, experiment: str, score: str, control: str = ARMS[0]) -> GroupComparison | None:
        """Heatmap loss (group a) against ``control`` (group b: ``"none"``, the same loss with w = 0, or
        ``"cce"``, the source's cross-entropy model) on ``score``, kept models only; None when an arm has
        no kept model (or was not trained)."""
        table = self.table(experiment)
        kept = table[table["kept"]]
        a = kept.loc[kept["arm"] == ARMS[1], score].to_numpy(float)
        b = kept.loc[kept["arm"] == control, score].to_numpy(float)
        if not np.isfinite(a).any() or not np.isfinite(b).any():
            return None
        return compare_groups(a, b, self.settings.alpha)

    def controls(self, experiment: str) -> list[str]:
        """The arms the heatmap loss is compared against in ``experiment``: ``"none"``, and ``"cce"`` where
        it was trained."""
        arms = set(self.table(experiment)["arm"])
        return [arm for arm in (ARMS[0], CCE_ARM) if arm in arms]

    def tests(self) -> pd.DataFrame:
        """One row per (experiment, score, control): models dropped by the accuracy threshold, models
        compared, medians and Shapiro–Wilk p (each as "control / loss"), Mann–Whitney U and its two-sided
        p, and the rank-biserial effect size of the heatmap loss against that control."""
        rows = []
        for experiment, scores in SCORES.items():
            if experiment not in self.settings.experiments:
                continue
            table = self.table(experiment)
            for control in self.controls(experiment):
                for score in scores:
                    c = self.comparison(experiment, score, control)
                    row = {
                        "experiment": experiment,
                        "score": score,
                        "against": CONTROL_LABELS[control],
                        "dropped": " / ".join(
                            str(int((~table.loc[table["arm"] == arm, "kept"]).sum())) for arm in (control, ARMS[1])
                        ),
                    }
                    row.update(_test_columns(c))
                    rows.append(row)
        return pd.DataFrame(rows).set_index(["experiment", "score", "against"])


#: how each control arm is named in the tables
CONTROL_LABELS = {ARMS[0]: "w = 0", CCE_ARM: "CCE"}


def _test_columns(c: GroupComparison | None) -> dict:
    """The columns of :meth:`HeatmapLossResult.tests` for one comparison (none when there is none)."""
    if c is None:
        return {}
    return {
        "n": f"{c.n_b} / {c.n_a}",
        "median": f"{fmt(c.median_b)} / {fmt(c.median_a)}",
        "Shapiro–Wilk p": f"{p_value(c.shapiro_p_b)} / {p_value(c.shapiro_p_a)}",
        "U": round(float(c.u), 1),
        "p": p_value(c.p),
        "rank-biserial": round(float(c.rank_biserial), 3),
    }


def _comparison_entry(c: GroupComparison | None) -> dict | None:
    if c is None:
        return None
    return {
        "median_none": c.median_b,
        "median_loss": c.median_a,
        "mann_whitney_p": c.p,
        "rank_biserial": c.rank_biserial,
        "shapiro_p_none": c.shapiro_p_b,
        "shapiro_p_loss": c.shapiro_p_a,
        "n_control": c.n_b,
        "n_loss": c.n_a,
        "summary": f"{c.rank_biserial:+.2f} (p = {p_value(c.p)}, {c.n_a} vs {c.n_b} models)",
    }


def headline(result: HeatmapLossResult) -> dict:
    s = result.settings
    experiments = {}
    for experiment in s.experiments:
        table = result.table(experiment)
        entry = {
            "models_per_arm": s.group_size,
            "discarded": {arm: int((~table.loc[table["arm"] == arm, "kept"]).sum()) for arm in table["arm"].unique()},
        }
        controls = result.controls(experiment)
        if CCE_ARM in controls:
            entry["vs_cce"] = {}
        for score in SCORES[experiment]:
            key = score.replace(" ", "_").replace("(", "").replace(")", "")
            entry[key] = _comparison_entry(result.comparison(experiment, score))  # against w = 0
            if CCE_ARM in controls:  # against the source's control
                entry["vs_cce"][key] = _comparison_entry(result.comparison(experiment, score, CCE_ARM))
        chance = result.examples.get(experiment, {}).get("chance")
        if chance:
            entry["uniform_map"] = {k.replace(" ", "_").replace("(", "").replace(")", ""): v for k, v in chance.items()}
        experiments[f"exp{experiment}"] = entry
    return {"run": result.run, "profile": s.profile, "heatmap_form": s.heatmap_form, "experiments": experiments}
