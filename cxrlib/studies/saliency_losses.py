"""Study 02: saliency-guided training with the class-distinctiveness loss (Sharma and P. 2023, §3.1–3.3, 4.3–4.5).

Three arms on the same data, backbone and seeds (Table 4.1 of the source):

* **CE**: weighted BCE alone (the baseline of notebook 01).
* **Custom**: weighted BCE ``+ λ1 · L_CD`` (class distinctiveness of the Grad-CAM maps of all K
  classes, closed form in the same forward pass), optionally ``+ λ2 · L_SC`` (spatial coherence),
  trained from scratch; ``lambda_grid`` adds further λ1 values.
* **Modified**: the two-stage pipeline: the CE arm's best weights, then the custom loss with a fresh
  optimizer for ``second_epochs`` (one :func:`~cxrlib.train.fit_two_stage` per seed, whose first
  stage *is* the CE arm).

Beyond the source's AUROC, every arm is scored on what the synthetic truth allows: Grad-CAM point
localisation on the truth boxes, the share of Grad-CAM mass inside the finding's mask, and, on the
test set, the class-distinctiveness value itself, the maps' mass and the share of flat maps (a loss
that rewarded vanishing maps would show there). Time per training epoch is reported as a ratio to CE.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd
import scipy.stats
import torch

from ..losses import SaliencyRegularizedLoss, WeightedBCELoss, positive_weights
from ..metrics import per_class_auroc, point_localization_accuracy
from ..models import build_model
from ..saliency import map_statistics
from ..train import TrainConfig, fit, fit_two_stage, predict, resolve_device
from .common import (
    backbone_output_stride,
    boxed_overlay_figure,
    check_backbone,
    mask_area_share,
    mass_in_mask_per_class,
    mean_ci,
    open_chest_dataset,
    resolve_settings,
    seed_mean_and_half_width,
    study_train_config,
)
from .prose import fmt, with_ci
from .runinfo import describe_run

__all__ = [
    "Arm",
    "SaliencyLossSettings",
    "ArmRun",
    "SaliencyLossResult",
    "saliency_loss_settings",
    "run_saliency_losses",
]


class Arm(str, Enum):
    CE = "ce"  #: weighted BCE
    CUSTOM = "custom"  #: weighted BCE + λ1·L_CD (+ λ2·L_SC), from scratch
    MODIFIED = "modified"  #: CE's best weights, then the custom loss


@dataclass
class SaliencyLossSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 1500
    image_size: int = 64
    classes: str | tuple[str, ...] = "chexpert5"
    label_policy: str = "sharma2023"
    uncertain_rate: float = 0.1
    prevalence: float | None = 0.25
    backbone: str = "densenet121"
    output_stride: int | None = 8
    arms: tuple[str, ...] = ("ce", "custom", "modified")
    lambda_cd: float = 1.4  #: λ1, weight of the class-distinctiveness loss (the source's 1.4)
    lambda_sc: float = 0.0  #: λ2, weight of the spatial-coherence loss (0: off, as in the source's Table 4.1)
    lambda_grid: tuple[float, ...] = ()  #: further λ1 values for the Custom arm
    epochs: int = 5
    second_epochs: int = 3  #: epochs of the Modified arm's second stage
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seeds: tuple[int, ...] = (0, 1, 2)
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_backbone(self.backbone)
        arms = [a.value for a in Arm]
        bad = [a for a in self.arms if a not in arms]
        if bad or not self.arms:
            raise ValueError(f"parameter 'arms': unknown {bad or 'empty list'}; use any of {arms}")
        if self.output_stride not in (None, 8, 16, 32):
            raise ValueError(f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}")
        if self.lambda_cd < 0 or self.lambda_sc < 0 or any(v < 0 for v in self.lambda_grid):
            raise ValueError("parameters 'lambda_cd', 'lambda_sc' and 'lambda_grid' must be >= 0")
        if not self.seeds:
            raise ValueError("parameter 'seeds': give at least one seed")


#: On a 2-core CPU one DenseNet-121 epoch at 64 px and output stride 8 takes ~30 s, so three arms
#: over several seeds do not fit 4 minutes: the CPU profiles train the small CNN (average pooling +
#: linear head, so L_CD has the same closed form) over three seeds, which gives intervals; ``full``
#: trains the source's DenseNet-121 at 224 px with its Adam 1e-4 and a small λ1 grid.
PRESETS = {
    "smoke": {"n": 600, "epochs": 3, "second_epochs": 2, "backbone": "small-cnn", "seeds": (0, 1)},
    "default": {"n": 1500, "epochs": 8, "second_epochs": 4, "backbone": "small-cnn", "seeds": (0, 1, 2)},
    "full": {
        "n": 20000,
        "image_size": 224,
        "epochs": 15,
        "second_epochs": 5,
        "batch_size": 64,
        "lr": 1e-4,
        "seeds": (0, 1, 2, 3, 4),
        "backbone": "densenet121",
        "output_stride": 16,
        "lambda_grid": (0.5, 3.0),
    },
}


def saliency_loss_settings(profile: str = "default", **overrides) -> SaliencyLossSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(SaliencyLossSettings, PRESETS, profile, **overrides)


@dataclass
class ArmRun:
    arm: str  #: "ce", "custom" or "modified"
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


@dataclass
class SaliencyLossResult:
    settings: SaliencyLossSettings
    classes: list[str]
    runs: list[ArmRun]
    test_data: object = None
    uniform_mass: pd.Series | None = None
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

    def discussion(self) -> str:
        return saliency_loss_discussion(self)


def _times_chance(mass: pd.Series, chance: pd.Series | None) -> float:
    """Mean over classes of the mask share as a multiple of a uniform map's share (1 = chance)."""
    if chance is None:
        return float("nan")
    known = mass.notna() & chance.notna() & (chance > 0)
    return float((mass[known] / chance[known]).mean()) if known.any() else float("nan")


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two mean ± half-width intervals overlap (True when either has no interval)."""
    if not (np.isfinite(a[1]) and np.isfinite(b[1])):
        return True
    return abs(a[0] - b[0]) <= a[1] + b[1]


def saliency_loss_discussion(result: SaliencyLossResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s, summary, run = result.settings, result.summary(), result.run
    n_seeds = len(s.seeds)
    lines = []
    ce_label = next((r.label for r in result.runs if r.arm == Arm.CE.value), None)
    auc = {label: (summary.loc[label, "mean AUROC"], summary.loc[label, "mean AUROC ±95%"]) for label in summary.index}
    lines.append(
        f"**Discrimination (Table 4.1).** {s.backbone} on {s.dataset} at {s.image_size} px "
        f"({run.get('n_train', '?')} training images, at most {s.epochs} epochs, {n_seeds} seed(s)): mean test AUROC "
        + ", ".join(f"{with_ci(*v)} for {label}" for label, v in auc.items())
        + (" (mean ± 95% half-width over seeds)." if n_seeds > 1 else " (one seed: no interval).")
    )
    if ce_label is not None:
        others = [label for label in auc if label != ce_label]
        same = [label for label in others if _overlap(auc[label], auc[ce_label])]
        lower = [label for label in others if label not in same and auc[label][0] < auc[ce_label][0]]
        higher = [label for label in others if label not in same and auc[label][0] > auc[ce_label][0]]
        parts = []
        if same:
            parts.append(f"{', '.join(same)} cannot be told apart from CE at this number of seeds")
        if lower:
            parts.append(f"{', '.join(lower)} ranked the test images worse than CE")
        if higher:
            parts.append(f"{', '.join(higher)} ranked them better than CE")
        sentence = "; ".join(parts)
        lines.append(
            sentence[:1].upper() + sentence[1:] + ". The source's three arms lay within 0.011 AUROC of each "
            "other (CE 0.756, Custom 0.745, Modified 0.749 on CheXpert validation, one run each): the loss did not "
            "buy discrimination there either; the question it leaves open is what the loss does to the maps."
        )
    cd = {label: (summary.loc[label, "L_CD (test)"], summary.loc[label, "L_CD (test) ±95%"]) for label in summary.index}
    if ce_label is not None:
        better = [label for label in cd if label != ce_label and cd[label][0] < cd[ce_label][0]]
        lines.append(
            "**Do the maps become more distinct?** The class-distinctiveness value on the test set (mean cosine "
            "between the classes' map-weighted feature vectors; 0 is fully distinct) was "
            + ", ".join(f"{with_ci(*v)} for {label}" for label, v in cd.items())
            + ". "
            + (
                f"{', '.join(better)} lowered it below CE's"
                + (
                    ", by more than the seed-to-seed spread."
                    if all(not _overlap(cd[label], cd[ce_label]) for label in better)
                    else ", though not beyond the seed-to-seed spread for every arm."
                )
                if better
                else "No arm lowered it below CE's: on these data the loss did not make the maps more distinct."
            )
        )
        flat = summary["flat maps"]
        mass = summary["map mass"]
        lines.append(
            "Vanishing maps are not a way out here: a map with no mass gets the average feature vector as its latent, "
            "so all-zero maps are as *similar* as maps can be. The share of flat test maps was "
            + ", ".join(f"{fmt(flat[label], 2)} for {label}" for label in flat.index)
            + ", and the mean map mass "
            + ", ".join(f"{fmt(mass[label], 3)} for {label}" for label in mass.index)
            + "."
        )
    loc = summary["point loc. acc."]
    chance = summary["mass in mask ×chance"]
    lines.append(
        "**Localisation.** Weighted point localisation accuracy was "
        + ", ".join(
            f"{with_ci(loc[label], summary.loc[label, 'point loc. acc. ±95%'])} for {label}" for label in loc.index
        )
        + "; the Grad-CAM mass inside the finding's mask, as a multiple of a uniform map's share, was "
        + ", ".join(f"{fmt(chance[label], 2)}× for {label}" for label in chance.index)
        + "."
    )
    if ce_label is not None:
        ce_loc = (loc[ce_label], summary.loc[ce_label, "point loc. acc. ±95%"])
        verdicts = []
        for label in loc.index:
            if label == ce_label:
                continue
            other = (loc[label], summary.loc[label, "point loc. acc. ±95%"])
            side = "below" if other[0] < ce_loc[0] else "above"
            spread = "within" if _overlap(other, ce_loc) else "beyond"
            verdicts.append(f"{label} localised {side} CE, {spread} the seed-to-seed spread")
        if verdicts:
            lines.append("; ".join(verdicts) + ".")
    rho, p = result.distinctiveness_vs_localisation()
    if np.isfinite(rho):
        verdict = (
            "more distinct maps went with better localisation"
            if rho < 0 and p < 0.05
            else "more distinct maps went with *worse* localisation"
            if rho > 0 and p < 0.05
            else "no reliable relation between distinctness and localisation"
        )
        lines.append(
            f"Across all {len(result.runs)} trained models the Spearman correlation between L_CD on the test set and "
            f"point localisation accuracy was {rho:+.2f} (p = {p:.2g}; a negative value means that lower L_CD, i.e. "
            f"more distinct maps, goes with more hits): {verdict}."
        )
    ratios = {label: result.epoch_time_ratio(label) for label in summary.index if label != ce_label}
    if ratios:
        lines.append(
            "**Cost.** Median seconds per training epoch over CE's: "
            + ", ".join(f"{fmt(v, 2)}× for {label}" for label, v in ratios.items())
            + ". With an average-pooling head the maps of all classes come in closed form from the same forward "
            "pass; the isolated training-step ratio is on the performance page."
        )
    return "\n\n".join(lines)


def _evaluate(
    model, label: str, arm: Arm, seed: int, lam: float, history, seconds, test, boxes, classes, device
) -> ArmRun:
    pred = predict(model, test, device=device, saliency="gradcam")
    stats = map_statistics(model, test, device=resolve_device(device))
    return ArmRun(
        arm=arm.value,
        label=label,
        seed=seed,
        lambda_cd=lam,
        history=history,
        auroc=per_class_auroc(pred.logits, pred.labels, classes),
        localization=point_localization_accuracy(pred.maps, boxes, list(test.table["image"]), classes, test.image_size),
        mass_in_mask=mass_in_mask_per_class(test, pred.maps) if test.has_masks else pd.Series(np.nan, index=classes),
        class_distinctiveness=stats.class_distinctiveness,
        map_mass=stats.map_mass,
        flat_share=stats.flat_share,
        train_seconds=seconds,
        seconds_per_epoch=float(history["seconds"].median()),
        maps=pred.maps,
    )


def _custom_label(lam: float, lambda_sc: float, several: bool) -> str:
    terms = f"λ1={lam:g}" + (f", λ2={lambda_sc:g}" if lambda_sc else "")
    return f"Custom ({terms})" if several or lambda_sc else "Custom"


def run_saliency_losses(settings: SaliencyLossSettings) -> SaliencyLossResult:
    """Train every arm for every seed and score it; see the module docstring."""
    t_start = time.perf_counter()
    s = settings
    ds = open_chest_dataset(s)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    boxes, classes = test.truth_boxes(), list(ds.classes)
    base = WeightedBCELoss(positive_weights(train.labels))
    arms = [Arm(a) for a in s.arms]
    lambdas = list(dict.fromkeys([s.lambda_cd, *s.lambda_grid]))

    def config(seed: int, epochs: int) -> TrainConfig:
        return study_train_config(s, seed, epochs=epochs)

    def new_model(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return build_model(
            s.backbone,
            len(classes),
            pretrained=s.pretrained,
            output_stride=backbone_output_stride(s.backbone, s.output_stride),
        )

    def evaluate(model, label, arm, seed, lam, history, seconds) -> ArmRun:
        return _evaluate(model, label, arm, seed, lam, history, seconds, test, boxes, classes, s.device)

    runs: list[ArmRun] = []
    for seed in s.seeds:
        if Arm.CE in arms or Arm.MODIFIED in arms:
            model = new_model(seed)
            t0 = time.perf_counter()
            ce_runs: list[ArmRun] = []

            def record_ce(trained, first, seed=seed, t0=t0, ce_runs=ce_runs):
                if Arm.CE in arms:  # evaluate a copy: predict moves the model and sets eval mode
                    run = evaluate(copy.deepcopy(trained), "CE", Arm.CE, seed, 0.0, first.history, first.seconds)
                    ce_runs.append(run)

            if Arm.MODIFIED in arms:
                regularised = SaliencyRegularizedLoss(base, model, s.lambda_cd, lambda_sc=s.lambda_sc)
                first, second = fit_two_stage(
                    model,
                    train,
                    val,
                    base,
                    regularised,
                    config(seed, s.epochs),
                    config(seed, s.second_epochs),
                    between=record_ce,
                )
                runs += ce_runs
                seconds = first.seconds + second.seconds
                runs.append(evaluate(model, "Modified", Arm.MODIFIED, seed, s.lambda_cd, second.history, seconds))
            else:
                first = fit(model, train, val, base, config(seed, s.epochs))
                record_ce(model, first)
                runs += ce_runs
        if Arm.CUSTOM in arms:
            for lam in lambdas:
                model = new_model(seed)
                loss = SaliencyRegularizedLoss(base, model, lam, lambda_sc=s.lambda_sc)
                result = fit(model, train, val, loss, config(seed, s.epochs))
                label = _custom_label(lam, s.lambda_sc, len(lambdas) > 1)
                runs.append(evaluate(model, label, Arm.CUSTOM, seed, lam, result.history, result.seconds))
    order = {Arm.CE.value: 0, Arm.CUSTOM.value: 1, Arm.MODIFIED.value: 2}
    runs.sort(key=lambda r: (order[r.arm], r.lambda_cd, r.seed))
    result = SaliencyLossResult(s, classes, runs, test, uniform_mass=mask_area_share(test) if test.has_masks else None)
    result.run = describe_run(
        s,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        classes=classes,
        grad_cam_grid=f"{runs[0].maps.shape[-2]}×{runs[0].maps.shape[-1]}",
    )
    result.headline = _headline(result)
    return result


def _arm_key(run: ArmRun, lambdas: int) -> str:
    return run.arm if run.arm != Arm.CUSTOM.value or lambdas == 1 else f"custom_lambda_{run.lambda_cd:g}"


def _headline(result: SaliencyLossResult) -> dict:
    s, summary = result.settings, result.summary()
    n_lambdas = len({r.lambda_cd for r in result.runs if r.arm == Arm.CUSTOM.value}) or 1
    arms = {}
    for label in summary.index:
        runs = result._of(label)
        row = summary.loc[label]
        arms[_arm_key(runs[0], n_lambdas)] = {
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
        }
    rho, p = result.distinctiveness_vs_localisation()
    return {
        "run": result.run,
        "dataset": s.dataset,
        "profile": s.profile,
        "backbone": s.backbone,
        "arms": arms,
        "distinctiveness_vs_localisation_spearman": {"rho": rho, "p": p},
    }
