"""Study 05: the run: training and evaluation."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.special
import torch

from ...artifacts import load_artifact
from ...calibration import TemperatureMode, fit_temperature, sigmoid_nll
from ...losses import WeightedBCELoss, positive_weights
from ...metrics import (
    adaptive_calibration_error,
    brier_score,
    expected_calibration_error,
    per_class_auroc,
)
from ...models import MIMOLoss, build_mimo, ensemble_logits
from ...train import fit, predict, resolve_device
from .. import imbalance_losses as imb
from ..common import backbone_output_stride, check_imagenet_weights, open_chest_dataset, study_train_config
from ..runinfo import describe_run
from .discussion import TEMPERATURE_BOUNDS
from .result import STAGES, CalibrationResult, LogitRun, headline
from .settings import CalibrationSettings, LogitsFrom

__all__ = [
    "load_saved_runs",
    "probability_ensemble",
    "NOTEBOOK",
    "calibration_metrics",
    "seconds_per_image",
    "run_calibration",
]


NOTEBOOK = "05_calibration"


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


def load_saved_runs(s: CalibrationSettings) -> tuple[list[LogitRun] | None, str]:
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


def probability_ensemble(logit_list: list[np.ndarray]) -> np.ndarray:
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
        probability_ensemble([r.test_logits for r in members]),
        probability_ensemble([r.val_logits for r in members]),
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
        "member_eces": [x["ECE"] for x in single_rows],
    }
    return table, info


def run_calibration(settings: CalibrationSettings) -> CalibrationResult:
    """Fit temperatures to every loss's validation logits, score the test logits, compare MIMO."""
    t_start = time.perf_counter()
    check_imagenet_weights(settings, [settings.backbone])
    s = settings
    ds = open_chest_dataset(s, prevalence=s.prevalence)
    classes = list(ds.classes)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    how = LogitsFrom(s.logits_from)
    runs, why = (None, "asked to train (logits_from='train')") if how is LogitsFrom.TRAIN else load_saved_runs(s)
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
        names={"losses": imb.LOSS_LABELS},
        classes=classes,
        logits=source,
    )
    result.headline = headline(result, result.mimo_info)
    return result
