"""Study 05: calibration of the imbalance-loss models, temperature scaling and MIMO (Sharma and P. 2023,
§3.5–3.6, 4.7; Guo et al. 2017; Naeini et al. 2015; Havasi et al. 2021).

**Temperature scaling (Table 4.3).** For every loss and seed of study 04 (weighted BCE, focal, AUC-M)
the validation logits fit one temperature for all classes and one per class
(:func:`cxrlib.calibration.fit_temperature`, Bernoulli NLL), and the test logits are scored before
and after: ECE with 15 equal-width bins (the source's metric; for sigmoid outputs the mean over classes
of each class's binary ECE), adaptive (equal-mass) ECE, NLL and Brier score (both means over classes),
and mean AUROC, which a positive temperature cannot change.

The logits are those study 04 saved (artifact ``logits`` of ``04_imbalance_losses``) when they were
produced by the same data and training settings as this run's (:data:`TRAINING_FIELDS`); otherwise
this study trains the same models itself (``logits_from="auto"``), and the run header says which.
``logits_from="load"`` insists on 04's logits, ``"train"`` always trains.

**MIMO against an ensemble.** A MIMO network of ``mimo_members`` members on the same backbone
(:func:`cxrlib.models.build_mimo`, weighted BCE on every member), trained with the same epochs as one
CE model, against the deep ensemble of the CE models of the first ``mimo_members`` seeds (probabilities
averaged) and against those models on their own: test AUROC, NLL, ECE and Brier score, forward passes
and wall time per test image. Times are measured on freshly built networks of each architecture (the
weights do not change the cost), best of a few passes over the test images.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum

import numpy as np
import pandas as pd
import scipy.special
import torch

from ..artifacts import load_artifact
from ..calibration import TemperatureMode, fit_temperature, sigmoid_nll
from ..losses import WeightedBCELoss, positive_weights
from ..metrics import (
    adaptive_calibration_error,
    brier_score,
    expected_calibration_error,
    per_class_auroc,
    reliability_curve,
)
from ..models import Backbone, MIMOLoss, build_mimo, ensemble_logits
from ..scorecard import DECIMALS
from ..train import fit, predict, resolve_device
from . import imbalance_losses as imb
from .common import backbone_output_stride, open_chest_dataset, resolve_settings, study_train_config
from .prose import fmt, join
from .runinfo import describe_run

__all__ = [
    "NOTEBOOK",
    "LogitsFrom",
    "CalibrationSettings",
    "LogitRun",
    "CalibrationResult",
    "calibration_settings",
    "run_calibration",
    "calibration_metrics",
    "seconds_per_image",
]

NOTEBOOK = "05_calibration"


class LogitsFrom(str, Enum):
    AUTO = "auto"  #: 04's saved logits when they match this run's settings, else train here
    LOAD = "load"  #: 04's saved logits, or an error saying why not
    TRAIN = "train"  #: always train here


#: the range in which temperatures are searched (fit_temperature's default)
TEMPERATURE_BOUNDS = (0.01, 100.0)

#: the three ways a model's test logits are scored
STAGES = ("before", "global T", "per-class T")


@dataclass
class CalibrationSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 1500
    image_size: int = 64
    classes: str | tuple[str, ...] = "chexpert5"
    label_policy: str = "sharma2023"
    uncertain_rate: float = 0.1
    prevalence: float | None = None
    backbone: str = "densenet121"
    output_stride: int | None = 8
    losses: tuple[str, ...] = ("wbce", "focal", "aucm")
    focal_gamma: float = 2.0
    focal_alpha: float | None = None
    auc_margin: float = 1.0
    auc_lr: float = 0.1
    auc_epochs: int = 2
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seeds: tuple[int, ...] = (0, 1, 2)
    logits_from: str = "auto"
    n_bins: int = 15
    mimo_members: int = 3
    mimo_input_repetition: float = 0.6  #: share of MIMO training rows that show one image to every member
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        known = [b.value for b in Backbone]
        if self.backbone not in known:
            raise ValueError(f"parameter 'backbone': unknown {self.backbone!r}; use one of {known}")
        imb.check_losses(self.losses)
        try:
            LogitsFrom(self.logits_from)
        except ValueError:
            raise ValueError(
                f"parameter 'logits_from': unknown {self.logits_from!r}; use one of {[v.value for v in LogitsFrom]}"
            ) from None
        if self.output_stride not in (None, 8, 16, 32):
            raise ValueError(f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}")
        if not self.seeds:
            raise ValueError("parameter 'seeds': give at least one seed")
        if self.n_bins < 2:
            raise ValueError(f"parameter 'n_bins' must be >= 2, got {self.n_bins}")
        if self.mimo_members < 2:
            raise ValueError(f"parameter 'mimo_members' must be >= 2, got {self.mimo_members}")
        if not 0 <= self.mimo_input_repetition <= 1:
            raise ValueError(f"parameter 'mimo_input_repetition' must lie in [0, 1], got {self.mimo_input_repetition}")


#: The data and training settings are study 04's presets, so that the book's run of 05 finds the logits
#: 04 saved under the same profile (a test keeps them equal); MIMO adds one model of the same cost.
PRESETS = {
    profile: {k: v for k, v in preset.items() if k in {f.name for f in fields(CalibrationSettings)}}
    for profile, preset in imb.PRESETS.items()
}


def calibration_settings(profile: str = "default", **overrides) -> CalibrationSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(CalibrationSettings, PRESETS, profile, **overrides)


@dataclass
class LogitRun:
    """One trained model's validation and test logits (from 04's artifact or trained here)."""

    loss: str
    label: str
    seed: int
    val_logits: np.ndarray  #: (N_val, K)
    val_labels: np.ndarray
    test_logits: np.ndarray  #: (N_test, K)
    test_labels: np.ndarray
    train_seconds: float = float("nan")


def _marginal_nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of each class's mean Bernoulli NLL (nats) on its known labels, from the logits."""
    z, y = np.asarray(logits, np.float64), np.asarray(labels, np.float64)
    per = [sigmoid_nll(z[~np.isnan(y[:, k]), k], y[~np.isnan(y[:, k]), k]) for k in range(z.shape[1])]
    per = [v for v in per if np.isfinite(v)]
    return float(np.mean(per)) if per else float("nan")


def calibration_metrics(logits: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict[str, float]:
    """ECE (``n_bins`` equal-width bins), adaptive ECE, NLL and Brier score, each the mean over classes
    of the per-class binary value on the known labels, mean AUROC, and ``mean p − rate`` (calibration in
    the large: the mean predicted probability minus the positive rate, averaged over classes) of
    multi-label ``(N, K)`` logits."""
    z = np.asarray(logits, np.float64)
    if not np.isfinite(z).all():
        raise ValueError("logits contain NaN or infinite values")
    p = scipy.special.expit(z)
    y = np.asarray(labels, np.float64)
    gaps = [
        p[~np.isnan(y[:, k]), k].mean() - y[~np.isnan(y[:, k]), k].mean()
        for k in range(z.shape[1])
        if (~np.isnan(y[:, k])).any()
    ]
    return {
        "ECE": expected_calibration_error(p, labels, n_bins, kind="marginal"),
        "adaptive ECE": adaptive_calibration_error(p, labels, n_bins, kind="marginal"),
        "NLL": _marginal_nll(z, labels),
        "Brier": brier_score(p, labels, kind="marginal"),
        "AUROC": float(per_class_auroc(z, labels)["mean"]),
        "mean p − rate": float(np.mean(gaps)) if gaps else float("nan"),
    }


def _pooled_curve(logits: np.ndarray, labels: np.ndarray, n_bins: int):
    """A binary reliability curve of every known (image, class) pair pooled."""
    y = np.asarray(labels, np.float64)
    known = ~np.isnan(y)
    return reliability_curve(scipy.special.expit(np.asarray(logits, np.float64)[known]), y[known], n_bins, "binary")


@dataclass
class CalibrationResult:
    settings: CalibrationSettings
    classes: list[str]
    runs: list[LogitRun]
    logits_source: str  #: "loaded from 04_imbalance_losses" or "trained here (why)"
    temperatures: dict = field(default_factory=dict)  #: (label, seed) → {"global": T, "per-class": T (K,)}
    metrics: pd.DataFrame | None = None  #: one row per (label, seed, split, stage)
    mimo: pd.DataFrame | None = None  #: one row per model kind
    mimo_info: dict = field(default_factory=dict)  #: member seeds, MIMO's seed, the members' own AUROCs
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(r.label for r in self.runs))

    @property
    def loaded(self) -> bool:
        return self.logits_source.startswith("loaded")

    def scaled(self, run: LogitRun, stage: str, split: str = "test") -> np.ndarray:
        """``run``'s logits of ``split`` at ``stage`` ("before", "global T", "per-class T")."""
        z = run.test_logits if split == "test" else run.val_logits
        if stage == "before":
            return np.asarray(z, np.float64)
        t = self.temperatures[(run.label, run.seed)]["global" if stage == "global T" else "per-class"]
        return np.asarray(z, np.float64) / t

    def table_4_3(self) -> pd.DataFrame:
        """Table 4.3: mean test ECE-15 before → after global temperature scaling per loss (means over
        seeds), with the per-class temperature beside it."""
        m = self.metrics[self.metrics["split"] == "test"]
        mean = m.groupby(["label", "stage"], sort=False)["ECE"].mean().unstack()
        table = pd.DataFrame(
            {
                "ECE before": mean["before"],
                "ECE after (global T)": mean["global T"],
                "before → after": [
                    f"{b:.{DECIMALS}f} → {a:.{DECIMALS}f}"
                    for b, a in zip(mean["before"], mean["global T"], strict=True)
                ],
                "ECE after (per-class T)": mean["per-class T"],
            }
        )
        return table.loc[[label for label in self.labels if label in table.index]]

    def side_by_side(self, split: str = "test") -> pd.DataFrame:
        """ECE, adaptive ECE, NLL, Brier and AUROC per loss and stage (rows), means over seeds."""
        m = self.metrics[self.metrics["split"] == split]
        table = m.groupby(["label", "stage"], sort=False)[
            ["ECE", "adaptive ECE", "NLL", "Brier", "mean p − rate", "AUROC"]
        ].mean()
        return table

    def temperature_table(self) -> pd.DataFrame:
        """Fitted temperatures per loss (rows): the global T and each class's T, means over seeds."""
        rows = {}
        for label in self.labels:
            ts = [v for (lab, _), v in self.temperatures.items() if lab == label]
            row = {"global T": float(np.mean([float(t["global"]) for t in ts]))}
            per = np.mean([np.asarray(t["per-class"], float) for t in ts], axis=0)
            row.update({c: float(v) for c, v in zip(self.classes, per, strict=True)})
            rows[label] = row
        return pd.DataFrame(rows).T

    def reliability_figure(self):
        """One panel per loss: the test reliability curve before and after global and per-class
        temperature scaling, every known (image, class) pair of every seed pooled."""
        from .. import plots

        panels = {}
        for label in self.labels:
            runs = [r for r in self.runs if r.label == label]
            labels = np.concatenate([r.test_labels for r in runs])
            panels[label] = {
                stage: _pooled_curve(
                    np.concatenate([self.scaled(r, stage) for r in runs]), labels, self.settings.n_bins
                )
                for stage in STAGES
            }
        return plots.reliability_diagram(
            panels, "Test reliability, classes and seeds pooled (ECE of the pooled pairs)", ncols=len(panels)
        )

    def per_class_reliability_figure(self, label: str | None = None):
        """One panel per class for one loss (default: the first, CE), before and after temperature
        scaling, seeds pooled; the legend's ECE is that class's binary ECE over the pooled seeds."""
        from .. import plots

        label = label or self.labels[0]
        runs = [r for r in self.runs if r.label == label]
        y = np.concatenate([r.test_labels for r in runs])
        panels = {}
        for k, c in enumerate(self.classes):
            known = ~np.isnan(y[:, k])
            panels[c] = {
                stage: reliability_curve(
                    scipy.special.expit(np.concatenate([self.scaled(r, stage) for r in runs])[known, k]),
                    y[known, k],
                    self.settings.n_bins,
                    "binary",
                )
                for stage in STAGES
            }
        return plots.reliability_diagram(panels, f"{label}: test reliability per class, seeds pooled", ncols=5)

    def mimo_table(self) -> pd.DataFrame | None:
        return self.mimo

    def discussion(self) -> str:
        return calibration_discussion(self)


def _load_runs(s: CalibrationSettings) -> tuple[list[LogitRun] | None, str]:
    """04's runs for this run's settings, or None and why they cannot be used."""
    try:
        saved = load_artifact(imb.NOTEBOOK, "logits")
    except FileNotFoundError:
        return None, f"{imb.NOTEBOOK} has not saved logits in this results folder"
    ours, theirs = imb.training_config(s), saved.get("config", {})
    differ = sorted(k for k in ours if theirs.get(k) != ours[k])
    if differ:
        shown = ", ".join(f"{k} {theirs.get(k)!r} there, {ours[k]!r} here" for k in differ[:4])
        return None, f"{imb.NOTEBOOK}'s saved logits come from other settings ({shown})"
    runs = []
    for r in saved["runs"]:
        if r["loss"] in s.losses and int(r["seed"]) in s.seeds:
            runs.append(
                LogitRun(
                    r["loss"],
                    imb.LOSS_LABELS[r["loss"]],
                    int(r["seed"]),
                    *(np.asarray(r[k], np.float64) for k in ("val_logits", "val_labels", "test_logits", "test_labels")),
                    train_seconds=float(r.get("train_seconds", float("nan"))),
                )
            )
    missing = sorted({(loss, seed) for loss in s.losses for seed in s.seeds} - {(r.loss, r.seed) for r in runs})
    if missing:
        return None, f"{imb.NOTEBOOK}'s saved logits lack (loss, seed) {missing[:4]}"
    return runs, f"loaded from {imb.NOTEBOOK} (profile {saved.get('profile', '?')})"


def _train_runs(s, train, val, test, classes, seeds, losses) -> list[LogitRun]:
    runs = []
    for seed in seeds:
        for loss, (model, result, seconds) in imb.train_losses(s, train, val, seed, losses, classes).items():
            r = imb.evaluate_loss_run(model, loss, seed, result, seconds, val, test, classes, s.device, maps=False)
            runs.append(
                LogitRun(loss, r.label, seed, r.val_logits, r.val_labels, r.test_logits, r.test_labels, r.train_seconds)
            )
    return runs


def seconds_per_image(
    groups: Mapping[str, list[torch.nn.Module]], images: torch.Tensor, device, batch_size: int = 64, repeats: int = 5
) -> dict[str, float]:
    """Wall seconds per image of running each group of models on ``images (N, 1, H, W)`` in eval mode
    without gradients (a group of several, an ensemble: all of them on each batch). The groups are timed
    in turn, ``repeats`` rounds after a warm-up batch, and each keeps its fastest pass over the images,
    so that a busy machine slows every group alike."""
    dev = resolve_device(device)
    groups = {name: [m.to(dev).eval() for m in models] for name, models in groups.items()}
    best = dict.fromkeys(groups, float("inf"))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    with torch.no_grad():
        for models in groups.values():
            for m in models:
                m(images[:batch_size].to(dev))
        for _ in range(repeats):
            for name, models in groups.items():
                sync()
                t0 = time.perf_counter()
                for i in range(0, len(images), batch_size):
                    batch = images[i : i + batch_size].to(dev)
                    for m in models:
                        m(batch)
                sync()
                best[name] = min(best[name], time.perf_counter() - t0)
    return {name: t / len(images) for name, t in best.items()}


def _ensemble(logit_list: list[np.ndarray]) -> np.ndarray:
    """Logits of the mean of the members' sigmoids (M arrays ``(N, K)`` → ``(N, K)``), as MIMO averages."""
    z = torch.from_numpy(np.stack([np.asarray(v, np.float64) for v in logit_list], axis=-2))
    return ensemble_logits(z).numpy()


def _mimo_comparison(s: CalibrationSettings, runs: list[LogitRun], data, classes) -> tuple[pd.DataFrame, dict]:
    """Train MIMO and compare it with the CE ensemble of the first ``mimo_members`` seeds and its members."""
    train, val, test = data
    m = s.mimo_members
    ce = {r.seed: r for r in runs if r.loss == imb.Loss.WBCE.value}
    seeds = list(dict.fromkeys(s.seeds))[:m]
    seeds += [max(seeds) + 1 + i for i in range(m - len(seeds))]
    missing = [seed for seed in seeds if seed not in ce]
    for r in _train_runs(s, train, val, test, classes, missing, (imb.Loss.WBCE.value,)):
        ce[r.seed] = r
    members = [ce[seed] for seed in seeds]
    torch.manual_seed(seeds[0])
    mimo = build_mimo(
        s.backbone,
        len(classes),
        members=m,
        input_repetition=s.mimo_input_repetition,
        pretrained=s.pretrained,
        output_stride=backbone_output_stride(s.backbone, s.output_stride),
    )
    config = study_train_config(s, seeds[0], epochs=s.epochs)
    result = fit(mimo, train, val, MIMOLoss(WeightedBCELoss(positive_weights(train.labels))), config)
    pv, pt = predict(mimo, val, device=s.device), predict(mimo, test, device=s.device)
    images = torch.stack([test[i]["image"] for i in range(len(test))])
    single_net = imb.new_model(s, len(classes), 0)
    ensemble_nets = [imb.new_model(s, len(classes), i) for i in range(m)]
    mimo_net = build_mimo(
        s.backbone, len(classes), members=m, output_stride=backbone_output_stride(s.backbone, s.output_stride)
    )
    times = seconds_per_image({"single": [single_net], "ensemble": ensemble_nets, "mimo": [mimo_net]}, images, s.device)
    t_single, t_ensemble, t_mimo = times["single"], times["ensemble"], times["mimo"]
    n_params = sum(p.numel() for p in single_net.parameters())

    def row(name, test_logits, val_logits, labels, val_labels, passes, seconds, params, train_s) -> dict:
        metrics = calibration_metrics(test_logits, labels, s.n_bins)
        ts = fit_temperature(val_logits, val_labels, TemperatureMode.GLOBAL, TEMPERATURE_BOUNDS)
        after = calibration_metrics(ts.apply(np.asarray(test_logits, np.float64)), labels, s.n_bins)
        return {
            "model": name,
            "mean AUROC": metrics["AUROC"],
            "NLL": metrics["NLL"],
            "ECE": metrics["ECE"],
            "Brier": metrics["Brier"],
            "ECE after TS": after["ECE"],
            "forward passes / image": passes,
            "ms / image": 1000 * seconds,
            "time ÷ single": seconds / t_single,
            "parameters": params,
            "training s": train_s,
        }

    single_rows = [
        row("", r.test_logits, r.val_logits, r.test_labels, r.val_labels, 1, t_single, n_params, r.train_seconds)
        for r in members
    ]
    single = {k: (float(np.mean([x[k] for x in single_rows])) if k != "model" else "") for k in single_rows[0]}
    single["model"] = f"single model (mean of {m})"
    single["forward passes / image"] = 1
    ensemble = row(
        f"deep ensemble of {m}",
        _ensemble([r.test_logits for r in members]),
        _ensemble([r.val_logits for r in members]),
        members[0].test_labels,
        members[0].val_labels,
        m,
        t_ensemble,
        m * n_params,
        float(np.sum([r.train_seconds for r in members])),
    )
    mimo_row = row(
        f"MIMO (M = {m})",
        pt.logits,
        pv.logits,
        pt.labels,
        pv.labels,
        1,
        t_mimo,
        sum(p.numel() for p in mimo.parameters()),
        result.seconds,
    )
    table = pd.DataFrame([single, ensemble, mimo_row]).set_index("model")
    info = {
        "members": m,
        "member_seeds": seeds,
        "trained_members": missing,
        "mimo_seed": seeds[0],
        "mimo_best_epoch": result.best_epoch,
        "member_aurocs": [x["mean AUROC"] for x in single_rows],
        "member_nlls": [x["NLL"] for x in single_rows],
    }
    return table, info


def run_calibration(settings: CalibrationSettings) -> CalibrationResult:
    """Fit temperatures to every loss's validation logits, score the test logits, compare MIMO."""
    t_start = time.perf_counter()
    s = settings
    ds = open_chest_dataset(s, prevalence=s.prevalence)
    classes = list(ds.classes)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    how = LogitsFrom(s.logits_from)
    runs, why = (None, "asked to train (logits_from='train')") if how is LogitsFrom.TRAIN else _load_runs(s)
    if runs is None:
        if how is LogitsFrom.LOAD:
            raise ValueError(f"logits_from='load': {why}; run {imb.NOTEBOOK} with the same settings first")
        if imb.Loss.AUCM.value in s.losses:
            imb.class_imratio(train.labels, classes)
        runs = _train_runs(s, train, val, test, classes, s.seeds, s.losses)
        source = f"trained here: {why}"
    else:
        source = why
    order = {v.value: i for i, v in enumerate(imb.Loss)}
    runs.sort(key=lambda r: (order[r.loss], r.seed))
    result = CalibrationResult(s, classes, runs, source)
    rows = []
    for r in runs:
        result.temperatures[(r.label, r.seed)] = {
            "global": fit_temperature(r.val_logits, r.val_labels, "global", TEMPERATURE_BOUNDS).temperature,
            "per-class": fit_temperature(r.val_logits, r.val_labels, "per-class", TEMPERATURE_BOUNDS).temperature,
        }
        for split in ("val", "test"):
            labels = r.test_labels if split == "test" else r.val_labels
            for stage in STAGES:
                values = calibration_metrics(result.scaled(r, stage, split), labels, s.n_bins)
                rows.append(
                    {"label": r.label, "loss": r.loss, "seed": r.seed, "split": split, "stage": stage, **values}
                )
    result.metrics = pd.DataFrame(rows)
    result.mimo, result.mimo_info = _mimo_comparison(s, runs, (train, val, test), classes)
    result.run = describe_run(
        s,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        classes=classes,
        logits=source,
    )
    result.headline = _headline(result, result.mimo_info)
    return result


def _headline(result: CalibrationResult, mimo_info: dict) -> dict:
    s = result.settings
    m = result.metrics
    losses = {}
    temps = result.temperature_table()
    for label in result.labels:
        loss = next(r.loss for r in result.runs if r.label == label)

        def mean(split, stage, metric, label=label):
            part = m[(m["label"] == label) & (m["split"] == split) & (m["stage"] == stage)]
            return float(part[metric].mean())

        entry = {"label": label, "seeds": int(((m["label"] == label) & (m["split"] == "test")).sum() // len(STAGES))}
        for key, stage in (("before", "before"), ("after_ts", "global T"), ("after_per_class_ts", "per-class T")):
            for metric, name in (
                ("ECE", "ece_15"),
                ("adaptive ECE", "adaptive_ece"),
                ("NLL", "nll"),
                ("Brier", "brier"),
            ):
                entry[f"{name}_{key}"] = mean("test", stage, metric)
                entry[f"val_{name}_{key}"] = mean("val", stage, metric)
            entry[f"auroc_{key}"] = mean("test", stage, "AUROC")
        entry["ece_15_before_after_ts"] = (
            f"{entry['ece_15_before']:.{DECIMALS}f} → {entry['ece_15_after_ts']:.{DECIMALS}f}"
        )
        entry["temperature_global"] = float(temps.loc[label, "global T"])
        entry["temperature_per_class"] = {c: float(temps.loc[label, c]) for c in result.classes}
        losses[loss] = entry
    mimo = {}
    keys = {
        "mean AUROC": "mean_auroc",
        "NLL": "nll",
        "ECE": "ece_15",
        "Brier": "brier",
        "ECE after TS": "ece_15_after_ts",
        "forward passes / image": "forward_passes_per_image",
        "ms / image": "ms_per_image",
        "time ÷ single": "time_over_single",
        "parameters": "parameters",
        "training s": "train_seconds",
    }
    for name, key in zip(result.mimo.index, ("single", "ensemble", "mimo"), strict=True):
        mimo[key] = {"label": name, **{v: float(result.mimo.loc[name, k]) for k, v in keys.items()}}
    return {
        "run": result.run,
        "dataset": s.dataset,
        "profile": s.profile,
        "backbone": s.backbone,
        "logits_source": result.logits_source,
        "logits_loaded": result.loaded,
        "losses": losses,
        "mimo": {**mimo, **{k: v for k, v in mimo_info.items() if k != "trained_members"}},
    }


def _below(a: float, b: float) -> bool:
    """``a < b`` as the tables print them (to :data:`~cxrlib.scorecard.DECIMALS` places), so that the text
    never calls lower what the table shows as equal."""
    return round(float(a), DECIMALS) < round(float(b), DECIMALS)


def _at_upper_bound(result: CalibrationResult) -> dict[str, int]:
    """Per loss, how many seeds' global temperature lies at the top of the search range."""
    return {
        label: sum(
            float(t["global"]) >= 0.99 * TEMPERATURE_BOUNDS[1]
            for (lab, _), t in result.temperatures.items()
            if lab == label
        )
        for label in result.labels
    }


def calibration_discussion(result: CalibrationResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s = result.settings
    lines = []
    table = result.table_4_3()
    test = result.side_by_side("test")
    val = result.side_by_side("val")
    n_seeds = len(s.seeds)
    lines.append(
        f"**Where the logits come from.** The {len(result.runs)} models' logits ({len(result.labels)} losses × "
        f"{n_seeds} seeds, {s.backbone} on {s.dataset}) were {result.logits_source}."
    )
    before, after = table["ECE before"], table["ECE after (global T)"]
    lowered = [label for label in table.index if _below(after[label], before[label])]
    raised = [label for label in table.index if label not in lowered]
    text = (
        "**Table 4.3.** Mean test ECE-15 before → after one temperature per model: "
        + ", ".join(f"{table.loc[label, 'before → after']} for {label}" for label in table.index)
        + " (means over seeds of the mean over classes). "
    )
    if lowered and not raised:
        text += "Temperature scaling lowered the ECE of every loss, as in the source. "
    else:
        if lowered:
            text += f"It lowered the ECE of {join(lowered)}; "
        text += (
            f"it did not lower it for {join(raised)}, unlike the source, where all three fell. "
            "A temperature is fitted by NLL on the validation split, not by ECE on the test split: it makes the "
            "probabilities sharper or softer, but cannot move a class's base rate. "
        )
    worst = before.idxmax()
    text += (
        f"Before scaling the least calibrated was {worst} ({fmt(before[worst])}; in the source DeepAUC, 0.2348), "
        f"after it the spread between losses was {fmt(after.max() - after.min())} "
        f"(before: {fmt(before.max() - before.min())}; the source: 0.120 before, 0.010 after)."
    )
    lines.append(text)
    ce = imb.LOSS_LABELS[imb.Loss.WBCE.value]
    if ce in result.labels:
        gap_before = test.loc[(ce, "before"), "mean p − rate"]
        gap_after = test.loc[(ce, "global T"), "mean p − rate"]
        if gap_before > 0.05:
            lines.append(
                "**Why CE is hard to fix.** The weighted BCE's mean predicted probability lay "
                f"{fmt(gap_before)} above the positive rate (mean over classes) before scaling and "
                f"{fmt(gap_after)} after. Its positive weight (negatives per positive) makes 0.5 the best constant "
                "prediction for every class: it shifts each logit by the log of that weight. A temperature has no "
                "offset to undo a shift; an offset per class (Platt scaling) could, or training without the weight."
            )
    temps = result.temperature_table()
    t_global, per_t = temps["global T"], temps[result.classes]
    direction = [
        f"{label} T = {t_global[label]:.2f} "
        + ("(over-confident: softened)" if t_global[label] > 1 else "(under-confident: sharpened)")
        for label in t_global.index
    ]
    per_class = table["ECE after (per-class T)"]
    better = [label for label in table.index if _below(per_class[label], after[label])]
    lines.append(
        "**Global vs per-class temperature.** Fitted global temperatures (means over seeds): "
        + "; ".join(direction)
        + ". "
        + "".join(
            f"For {label}, {n} of {len(s.seeds)} fitted global temperatures sat at the top of the search range "
            f"(T = {TEMPERATURE_BOUNDS[1]:g}): probabilities flattened towards 0.5 gave the lowest validation NLL. "
            for label, n in _at_upper_bound(result).items()
            if n
        )
        + "Per class, the temperatures of "
        + ", ".join(
            f"{label} ranged from {per_t.loc[label].min():.2f} to {per_t.loc[label].max():.2f}" for label in per_t.index
        )
        + ". One temperature per class "
        + (
            f"gave a lower test ECE than one global temperature for {join(better)}"
            + (f" but not for {join(x for x in table.index if x not in better)}" if len(better) < len(table) else "")
            if better
            else "did not lower the test ECE below the global temperature's for any loss"
        )
        + ". On the validation split, where both were fitted, per-class temperatures can only lower the NLL "
        "below the global one's (each class's own NLL is minimised): "
        + ", ".join(
            f"{fmt(val.loc[(label, 'global T'), 'NLL'])} → {fmt(val.loc[(label, 'per-class T'), 'NLL'])} for {label}"
            for label in result.labels
        )
        + "."
    )
    agree = []
    for metric in ("adaptive ECE", "NLL", "Brier"):
        improved = [
            label
            for label in result.labels
            if _below(test.loc[(label, "global T"), metric], test.loc[(label, "before"), metric])
        ]
        agree.append(f"{metric} fell for {join(improved) if improved else 'no loss'}")
    rank_before = test.xs("before", level="stage")["NLL"].sort_values()
    auroc_change = float(
        np.max(np.abs(test.xs("global T", level="stage")["AUROC"] - test.xs("before", level="stage")["AUROC"]))
    )
    lines.append(
        "**Other calibration measures (test).** Under the global temperature "
        + "; ".join(agree)
        + f". By test NLL before scaling the losses rank {', '.join(rank_before.index)} (best first). "
        + (
            "Mean AUROC did not change"
            if auroc_change < 1e-12
            else f"Mean AUROC moved by at most {auroc_change:.1e} (rounding)"
        )
        + ": a positive temperature keeps every class's ranking."
    )
    mimo = result.mimo
    if mimo is not None and len(mimo) == 3:
        single, ensemble, mimo_row = mimo.index
        text = (
            f"**MIMO.** Mean test AUROC {fmt(mimo.loc[single, 'mean AUROC'])} for a {single}, "
            f"{fmt(mimo.loc[ensemble, 'mean AUROC'])} for the {ensemble}, {fmt(mimo.loc[mimo_row, 'mean AUROC'])} "
            f"for {mimo_row}; NLL {fmt(mimo.loc[single, 'NLL'])}, {fmt(mimo.loc[ensemble, 'NLL'])} and "
            f"{fmt(mimo.loc[mimo_row, 'NLL'])}; ECE-15 {fmt(mimo.loc[single, 'ECE'])}, "
            f"{fmt(mimo.loc[ensemble, 'ECE'])} and {fmt(mimo.loc[mimo_row, 'ECE'])}. "
        )
        aurocs = result.mimo_info.get("member_aurocs", [])
        if aurocs:
            text += (
                f"These are one MIMO model (seed {result.mimo_info.get('mimo_seed')}) and one ensemble; the "
                f"{len(aurocs)} single models' own mean AUROCs ranged from {fmt(min(aurocs))} to {fmt(max(aurocs))}. "
            )
        beats = [
            metric
            for metric, higher_is_better in (("mean AUROC", True), ("NLL", False), ("ECE", False))
            if (
                _below(mimo.loc[single, metric], mimo.loc[mimo_row, metric])
                if higher_is_better
                else _below(mimo.loc[mimo_row, metric], mimo.loc[single, metric])
            )
        ]
        text += (
            f"MIMO was better than the average single model in {join(beats)}"
            + (
                f" but not in {join(x for x in ('mean AUROC', 'NLL', 'ECE') if x not in beats)}"
                if len(beats) < 3
                else ""
            )
            if beats
            else "MIMO was better than the average single model in none of AUROC, NLL and ECE"
        )
        ens_better = _below(mimo.loc[ensemble, "NLL"], mimo.loc[mimo_row, "NLL"])
        text += (
            f"; the ensemble's NLL was {'lower' if ens_better else 'not lower'} than MIMO's. "
            f"At test time MIMO costs one forward pass per image, {fmt(mimo.loc[mimo_row, 'time ÷ single'], 2)}× a "
            f"single model's wall time ({fmt(mimo.loc[mimo_row, 'ms / image'], 3)} ms per image here), the ensemble "
            f"{int(mimo.loc[ensemble, 'forward passes / image'])} passes and "
            f"{fmt(mimo.loc[ensemble, 'time ÷ single'], 2)}×. Training took {mimo.loc[mimo_row, 'training s']:.0f} s "
            f"for MIMO, {mimo.loc[single, 'training s']:.0f} s per single model and "
            f"{mimo.loc[ensemble, 'training s']:.0f} s for the ensemble"
            + (
                " (the single models' times are those of 04's run, on a machine that may have been busier or idler)."
                if result.loaded
                else "."
            )
        )
        if "NLL" not in beats:
            text += (
                " Havasi et al. report better NLL than a single model at the same test cost for wide networks; "
                "this MIMO, one network of "
                f"{int(mimo.loc[mimo_row, 'parameters']):,} parameters trained for at most {s.epochs} epochs, "
                "did not get there."
            )
        lines.append(text)
    return "\n\n".join(lines)
