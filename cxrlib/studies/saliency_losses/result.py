"""Study 02: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.stats

from ..common import (
    boxed_overlay_figure,
    mean_ci,
    seed_mean_and_half_width,
)
from ..prose import fmt, with_ci
from .settings import Arm, SaliencyLossSettings

__all__ = ["ArmRun", "SaliencyLossResult", "headline", "arm_key"]


@dataclass
class ArmRun:
    arm: str  #: "ce", "custom", "modified" or "coherence"
    label: str  #: e.g. "Custom (λ1=1.4)"
    seed: int
    lambda_cd: float
    history: pd.DataFrame  #: the arm's own epochs (Modified: its second stage)
    auroc: pd.Series  #: per class + "mean"
    localization: pd.DataFrame
    mass_in_mask: pd.Series
    class_distinctiveness: float  #: L_CD on the test set (mean pairwise cosine; 0 = distinct)
    map_mass: float  #: mean positive Grad-CAM mass per map on the test set
    flat_share: float  #: share of flat Grad-CAM maps on the test set
    train_seconds: float  #: the arm's whole training (Modified: both stages)
    seconds_per_epoch: float  #: median over the arm's own epochs (Modified: its second stage)
    maps: np.ndarray  #: (N_test, K, h, w)
    stopped: str = "epochs"  #: why training ended: "epochs" (the cap) or "lr reduced 2x" (the plateau rule)


@dataclass
class SaliencyLossResult:
    settings: SaliencyLossSettings
    classes: list[str]
    runs: list[ArmRun]
    test_data: object = None
    uniform_mass: pd.Series | None = None
    diverged: list[dict] = field(default_factory=list)  #: runs whose loss became non-finite (arm, seed, error)
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(r.label for r in self.runs))

    def _of(self, label: str) -> list[ArmRun]:
        return [r for r in self.runs if r.label == label]

    def epoch_time_ratio(self, label: str) -> float:
        """Median seconds per epoch of ``label`` over CE's, seed by seed, then averaged."""
        ce = {r.seed: r.seconds_per_epoch for r in self.runs if r.arm == Arm.CE.value}
        ratios = [r.seconds_per_epoch / ce[r.seed] for r in self._of(label) if r.seed in ce]
        return float(np.mean(ratios)) if ratios else float("nan")

    def summary(self) -> pd.DataFrame:
        """One row per arm: means over seeds with 95% Student-t half-widths."""
        rows = []
        chance = self.uniform_mass
        for label in self.labels:
            runs = self._of(label)
            row = {"arm": label, "seeds": len(runs)}
            values = {
                "mean AUROC": [r.auroc["mean"] for r in runs],
                "point loc. acc.": [r.localization.loc["weighted", "accuracy"] for r in runs],
                "mass in mask ×chance": [_times_chance(r.mass_in_mask, chance) for r in runs],
                "L_CD (test)": [r.class_distinctiveness for r in runs],
                "map mass": [r.map_mass for r in runs],
                "flat maps": [r.flat_share for r in runs],
            }
            for name, v in values.items():
                mean, half = mean_ci(v)
                row[name] = mean
                if name in ("mean AUROC", "point loc. acc.", "L_CD (test)"):
                    row[f"{name} ±95%"] = half
            row["s/epoch ÷ CE"] = self.epoch_time_ratio(label)
            rows.append(row)
        return pd.DataFrame(rows).set_index("arm")

    def summary_table(self) -> pd.DataFrame:
        """:meth:`summary` for reading: "mean ± 95% half-width" cells (the half-width left out with one seed)."""
        summary = self.summary()
        table = pd.DataFrame(index=summary.index)
        table["seeds"] = summary["seeds"]
        for name in ("mean AUROC", "point loc. acc.", "L_CD (test)"):
            table[name] = [with_ci(m, h) for m, h in zip(summary[name], summary[f"{name} ±95%"], strict=True)]
        table["mass in mask ×chance"] = summary["mass in mask ×chance"].map(lambda v: fmt(v, 2))
        table["map mass"] = summary["map mass"].map(fmt)
        table["flat maps"] = summary["flat maps"].map(lambda v: fmt(v, 2))
        table["s/epoch ÷ CE"] = summary["s/epoch ÷ CE"].map(lambda v: fmt(v, 2))
        return table

    def convergence(self, label: str) -> dict:
        """How ``label``'s training ended, over its seeds: ``seeds`` (diverged ones included), how many
        ``stopped_by_plateau_rule`` (the validation loss stopped improving twice; the others hit the epoch
        cap), how many ``diverged`` (non-finite loss), and means over the trained seeds of the validation
        loss of the first epoch and of the best, and of the best epoch (1-based; NaN without a trained seed)."""
        runs = self._of(label)
        losses = [r.history["val_loss"] for r in runs]
        diverged = sum(d["arm"] == label for d in self.diverged)

        def mean(values: list[float]) -> float:
            return float(np.mean(values)) if values else float("nan")

        return {
            "seeds": len(runs) + diverged,
            "stopped_by_plateau_rule": sum(r.stopped != "epochs" for r in runs),
            "diverged": diverged,
            "val_loss_first_epoch": mean([float(v.iloc[0]) for v in losses]),
            "val_loss_best": mean([float(v.min()) for v in losses]),
            "best_epoch": mean([int(v.idxmin()) + 1 for v in losses]),
        }

    def convergence_table(self) -> pd.DataFrame:
        """Did each arm's training converge, and at what cost? One row per arm (:meth:`convergence`):
        seeds, stopped by the plateau rule rather than at the epoch cap, diverged, the validation loss of
        the first and the best epoch, the best epoch, and seconds per epoch over CE's."""
        rows = []
        for label in self.labels:
            c = self.convergence(label)
            rows.append(
                {
                    "arm": label,
                    "seeds": c["seeds"],
                    "stopped by plateau rule": c["stopped_by_plateau_rule"],
                    "diverged": c["diverged"],
                    "val loss, epoch 1": fmt(c["val_loss_first_epoch"], 3),
                    "val loss, best": fmt(c["val_loss_best"], 3),
                    "best epoch": fmt(c["best_epoch"], 1),
                    "s/epoch ÷ CE": fmt(self.epoch_time_ratio(label), 2),
                }
            )
        for label in dict.fromkeys(d["arm"] for d in self.diverged):
            if label not in self.labels:  # every seed diverged
                n = self.convergence(label)["diverged"]
                rows.append({"arm": label, "seeds": n, "stopped by plateau rule": 0, "diverged": n})
        return pd.DataFrame(rows).set_index("arm").fillna("–")

    def per_class_auroc(self) -> pd.DataFrame:
        """Table 4.1: per-class and mean test AUROC per arm, mean over seeds (rows: arms)."""
        return seed_mean_and_half_width({label: [r.auroc for r in self._of(label)] for label in self.labels})[0]

    def per_class_auroc_ci(self) -> pd.DataFrame:
        """The 95% half-widths of :meth:`per_class_auroc` (NaN with one seed)."""
        return seed_mean_and_half_width({label: [r.auroc for r in self._of(label)] for label in self.labels})[1]

    def runs_table(self) -> pd.DataFrame:
        """One row per trained model: what the distinctiveness-vs-localisation question is asked of."""
        return pd.DataFrame(
            [
                {
                    "arm": r.label,
                    "seed": r.seed,
                    "mean AUROC": r.auroc["mean"],
                    "point loc. acc.": r.localization.loc["weighted", "accuracy"],
                    "mass in mask ×chance": _times_chance(r.mass_in_mask, self.uniform_mass),
                    "L_CD (test)": r.class_distinctiveness,
                    "map mass": r.map_mass,
                    "flat maps": r.flat_share,
                    "training s": r.train_seconds,
                }
                for r in self.runs
            ]
        )

    def distinctiveness_vs_localisation(self) -> tuple[float, float]:
        """Spearman correlation (and p) between L_CD on the test set and point localisation, over
        every trained model; (nan, nan) with fewer than 4 models."""
        table = self.runs_table()
        if len(table) < 4:
            return float("nan"), float("nan")
        rho, p = scipy.stats.spearmanr(table["L_CD (test)"], table["point loc. acc."])
        return float(rho), float(p)

    def overlay_figure(self, per_class: int = 1):
        """Grad-CAM overlays of every arm (first seed) on the same boxed test images."""
        first = self.settings.seeds[0]
        return boxed_overlay_figure(self.test_data, {r.label: r.maps for r in self.runs if r.seed == first}, per_class)

    def histories(self) -> dict[str, pd.DataFrame]:
        return {f"{r.label} seed {r.seed}": r.history for r in self.runs}


def _times_chance(mass: pd.Series, chance: pd.Series | None) -> float:
    """Mean over classes of the mask share as a multiple of a uniform map's share (1 = chance)."""
    if chance is None:
        return float("nan")
    known = mass.notna() & chance.notna() & (chance > 0)
    return float((mass[known] / chance[known]).mean()) if known.any() else float("nan")


def arm_key(arm: str, lambda_cd: float, settings: SaliencyLossSettings) -> str:
    """The headline key of an arm: its name, and for the Custom arm at a λ1 of ``lambda_grid`` (not the
    run's ``lambda_cd``) ``custom_lambda_<λ1>``. The Custom arm at ``lambda_cd`` is always ``custom``, on
    every profile, so the scorecard finds Table 4.1's row whatever grid a profile adds."""
    if arm != Arm.CUSTOM.value or lambda_cd == settings.lambda_cd:
        return arm
    return f"custom_lambda_{lambda_cd:g}"


def headline(result: SaliencyLossResult) -> dict:
    s, summary = result.settings, result.summary()
    arms = {}
    for label in summary.index:
        runs = result._of(label)
        row = summary.loc[label]
        convergence = result.convergence(label)
        arms[arm_key(runs[0].arm, runs[0].lambda_cd, s)] = {
            "label": label,
            "lambda_cd": runs[0].lambda_cd,
            "mean_auroc": float(row["mean AUROC"]),
            "mean_auroc_ci95": float(row["mean AUROC ±95%"]),
            "per_class_auroc": {c: float(np.mean([r.auroc[c] for r in runs])) for c in result.classes},
            "point_localization_accuracy": float(row["point loc. acc."]),
            "cam_mass_in_mask_x_chance": float(row["mass in mask ×chance"]),
            "class_distinctiveness_test": float(row["L_CD (test)"]),
            "map_mass": float(row["map mass"]),
            "flat_map_share": float(row["flat maps"]),
            "epoch_time_over_ce": float(row["s/epoch ÷ CE"]),
            "seeds": len(runs),
            **{k: convergence[k] for k in ("stopped_by_plateau_rule", "val_loss_first_epoch", "val_loss_best")},
        }
    rho, p = result.distinctiveness_vs_localisation()
    return {
        "run": result.run,
        "dataset": s.dataset,
        "profile": s.profile,
        "backbone": s.backbone,
        "arms": arms,
        "lambda_sc": s.lambda_sc if Arm.COHERENCE.value in s.arms else None,
        "diverged": [{"arm": d["arm"], "seed": d["seed"]} for d in result.diverged],
        "distinctiveness_vs_localisation_spearman": {"rho": rho, "p": p},
    }
