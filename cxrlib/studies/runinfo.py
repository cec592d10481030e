"""The run header every result page starts with: what ran, on what, for how long.

A study's result carries ``run`` (a plain dict, written into ``results/NN.json`` for the scorecard)
and shows it as a small two-column table at the top of its notebook, never as a raw ``Settings(...)``
repr: dataset, profile, image size, images per split, epochs, seeds, pretrained weights, device,
wall time and library versions.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch

__all__ = ["device_description", "describe_run", "run_header", "run_header_table"]

_LABELS = {
    "dataset": "dataset",
    "profile": "profile",
    "image_size": "image size (px)",
    "n_train": "images: train",
    "n_val": "images: val",
    "n_test": "images: test",
    "epochs": "epochs (max)",
    "seeds": "training seeds",
    "n": "images generated",
    "seed": "data seed",
    "data_seed": "data seed",
    "lr": "learning rate (Adam)",
    "batch_size": "batch size",
    "weight_decay": "weight decay",
    "label_policy": "uncertain-label policy",
    "uncertain_rate": "uncertain labels (share)",
    "prevalence": "prevalence per class",
    "output_stride": "output stride",
    "studies_per_patient": "studies per patient",
    "n_readers": "simulated readers",
    "size_sample": "images measured for sizes",
    "backbones": "backbones",
    "backbone": "backbone",
    "arms": "arms",
    "lambda_cd": "λ1 (class distinctiveness)",
    "lambda_sc": "λ2 (spatial coherence)",
    "lambda_grid": "further λ1 values",
    "second_epochs": "epochs of stage two (Modified)",
    "experiments": "experiments",
    "group_size": "models per arm and experiment",
    "cmr_n": "SynthCMR images per experiment",
    "cxr_n": "SynthCXR training set (images)",
    "cxr_test_n": "SynthCXR test sets (images each)",
    "cxr_epochs": "epochs (SynthCXR)",
    "shortcut_class": "shortcut class (exp. 3)",
    "shortcut_rate": "marker agrees with it (train)",
    "classification": "classification loss (SynthCMR)",
    "heatmap_weight": "heatmap-loss weight w",
    "heatmap_form": "heatmap-loss form",
    "accuracy_threshold": "discard under val. accuracy",
    "lrs": "learning rates (cycled)",
    "models_trained": "models trained",
    "images_generated": "images generated",
    "pretrained": "ImageNet weights",
    "device": "device",
    "wall_seconds": "wall time",
    "cxrlib_version": "cxrlib",
    "torch_version": "torch",
    "grad_cam_grid": "Grad-CAM grid",
    "classes": "classes",
    "patients": "patients",
    "losses": "losses",
    "focal_gamma": "focal loss γ",
    "focal_alpha": "focal loss α (weight of positives)",
    "auc_recipe": "DeepAUC's training",
    "auc_margin": "AUC-M margin",
    "auc_lr": "PESG learning rate (AUC-M)",
    "auc_epochs": "epochs of AUC-M fine-tuning",
    "sweep_class": "prevalence sweep: class",
    "sweep_prevalences": "prevalence sweep: training prevalences",
    "sweep_seeds": "prevalence sweep: seeds",
    "sweep_train_images": "prevalence sweep: training images each",
    "logits_from": "logits asked for",
    "logits": "logits used",
    "n_bins": "ECE bins",
    "mimo_members": "MIMO members M (and ensemble size)",
    "mimo_input_repetition": "MIMO input repetition",
    "n_error": "images: error-model train",
    "images_without_labels": "images without any known label (dropped)",
    "fractions": "patient split: classifier, error model, val, test",
    "clinician_sensitivity": "clinician sensitivity",
    "clinician_specificity": "clinician specificity",
    "weak_class": "weak clinician: class",
    "weak_sensitivity": "weak clinician: sensitivity",
    "weak_specificity": "weak clinician: specificity",
    "rules": "deferral rules",
    "error_balance": "error-model training (balance)",
    "cost": "cost of deferring c (headline)",
    "table_costs": "costs in the table",
    "dropout": "dropout before the head",
    "mc_samples": "MC dropout samples",
    "error_epochs": "error-model epochs (max)",
    "models": "models",
    "encoder": "encoder",
    "augment": "augmentation (rotation, flip, brightness/contrast, crop)",
    "map_grid": "class-map grid",
    "hessians": "Laplace Hessian structures",
    "prior_fit": "prior precision chosen by",
    "cv_folds": "cross-validation folds",
    "unit": "what is deferred",
    "cce_control": "CCE control arm (SynthCMR)",
    "cd_latent": "L_CD compares",
    "gap_baselines": "Table 6.1 GAP baselines",
    "predictive": "Laplace predictive",
    "cxr_backbone": "backbone (SynthCXR)",
    "ood_n": "SynthCXR images fed to the MSK model",
    "multilabel_images": "SynthCXR images (multi-label part)",
    "ablations": "ablations (Table 6.2)",
    "gap_seeds": "seeds: PYLON and its +GAP variants",
    "ablation_seeds": "seeds: each ablation",
    "transfer_target": "transfer target (Table 5.5)",
    "transfer_epochs": "epochs (max): each transfer fit, each phase",
    "transfer_seeds": "seeds: each transfer arm",
    "transfer_source": "transfer source weights",
    "model_source": "model",
    "source": "model source asked for",
    "n_bootstrap": "bootstrap resamples (patients)",
    "costs": "deferral costs c (Chow's rule)",
    "max_map_images": "test images mapped (at most)",
    "nih_sample": "report on the NIH sample too",
    "nih_images": "images: NIH sample (real)",
}


#: settings a header shows when a study has them, in this order
_SETTINGS_SHOWN = (
    "dataset",
    "profile",
    "image_size",
    "n",
    "seed",
    "data_seed",
    "studies_per_patient",
    "uncertain_rate",
    "prevalence",
    "n_readers",
    "size_sample",
    "label_policy",
    "backbones",
    "backbone",
    "models",
    "encoder",
    "output_stride",
    "augment",
    "arms",
    "lambda_cd",
    "lambda_sc",
    "lambda_grid",
    "losses",
    "focal_gamma",
    "focal_alpha",
    "auc_recipe",
    "auc_margin",
    "auc_lr",
    "experiments",
    "group_size",
    "cmr_n",
    "cxr_n",
    "cxr_test_n",
    "cxr_backbone",
    "ood_n",
    "shortcut_class",
    "shortcut_rate",
    "classification",
    "heatmap_weight",
    "heatmap_form",
    "accuracy_threshold",
    "epochs",
    "second_epochs",
    "auc_epochs",
    "cxr_epochs",
    "batch_size",
    "lr",
    "lrs",
    "weight_decay",
    "seeds",
    "sweep_class",
    "sweep_prevalences",
    "sweep_seeds",
    "logits_from",
    "n_bins",
    "hessians",
    "prior_fit",
    "cv_folds",
    "unit",
    "cce_control",
    "cd_latent",
    "gap_baselines",
    "predictive",
    "mimo_members",
    "mimo_input_repetition",
    "fractions",
    "clinician_sensitivity",
    "clinician_specificity",
    "weak_class",
    "weak_sensitivity",
    "weak_specificity",
    "rules",
    "error_balance",
    "cost",
    "table_costs",
    "dropout",
    "mc_samples",
    "error_epochs",
    "ablations",
    "gap_seeds",
    "ablation_seeds",
    "transfer_epochs",
    "transfer_seeds",
    "source",
    "n_bootstrap",
    "costs",
    "max_map_images",
    "pretrained",
)
_SYNTH_ONLY = ("n", "studies_per_patient", "uncertain_rate", "prevalence", "n_readers")


def device_description(device: str | torch.device = "auto") -> str:
    """``"CPU (2 cores)"`` or ``"CUDA: NVIDIA H100 80GB HBM3"``: the device a run actually used."""
    from ..train import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    cpu = platform.processor() or platform.machine()
    return f"CPU ({os.cpu_count()} cores, {cpu})" if cpu else f"CPU ({os.cpu_count()} cores)"


def describe_run(
    settings: Any,
    splits: Mapping[str, int] | None = None,
    wall_seconds: float | None = None,
    names: Mapping[str, Mapping[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``run`` dict of a study: the settings that say what ran (those of :data:`_SETTINGS_SHOWN`
    the study has; SynthCXR-only ones are left out for a real source), images per split
    (``splits={"train": n, ...}``), the device, wall time and versions; ``extra`` adds or overrides.

    ``names``: per setting, the names its tables give the option values (``{"losses": {"aucm":
    "AUC-M"}}``), so that the header says what the tables say, not the parameter's keys."""
    from .. import __version__

    fields = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)
    run: dict[str, Any] = {k: fields[k] for k in _SETTINGS_SHOWN if k in fields}
    if fields.get("dataset") not in (None, "synth-cxr"):  # generator options mean nothing for a real source
        for k in _SYNTH_ONLY:
            run.pop(k, None)
    for split, n in (splits or {}).items():
        run[f"n_{split}"] = int(n)
    run["device"] = device_description(fields.get("device", "auto"))
    if wall_seconds is not None:
        run["wall_seconds"] = round(float(wall_seconds), 1)
    run["cxrlib_version"] = __version__
    run["torch_version"] = torch.__version__
    run.update(extra)
    for key, table in (names or {}).items():
        if key in run:
            run[key] = _named(run[key], table)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in run.items()}


def _named(value: Any, table: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return table.get(value, value)
    if isinstance(value, Sequence):
        return [table.get(v, v) if isinstance(v, str) else v for v in value]
    return value


def _show(key: str, value: Any) -> str:
    if key == "wall_seconds":
        minutes, seconds = divmod(float(value), 60)
        return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"
    if key == "pretrained":
        return "yes" if value else "no (trained from scratch)"
    if key == "seeds":
        seeds = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        return f"{', '.join(str(v) for v in seeds)} ({len(seeds)} run{'s' if len(seeds) != 1 else ''} of each model)"
    if key == "label_policy" and value is None:
        return "the source's default (SynthCXR: ignore; CheXpert: the preset sharma2023)"
    if key == "prevalence" and value is None:
        return "the generator's per-class defaults"
    if key == "focal_alpha" and value is None:
        return "none (positives and negatives weighted alike)"
    if key == "sweep_class" and value is None:
        return "none (no sweep)"
    if key == "sweep_prevalences":
        return ", ".join(f"{v:.0%}" if v >= 0.01 else f"{v:.1%}" for v in value)
    if key == "lambda_grid" and not value:
        return "none"
    if key == "output_stride" and value is None:
        return "each backbone's own"
    if value is None:
        return "none"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):  # a reader sees yes / no, not Python's True / False
        return "yes" if value else "no"
    return str(value)


def run_header_table(run: Mapping[str, Any]) -> pd.DataFrame:
    """The run as a table indexed by ``setting`` with one ``value`` column."""
    rows = [(_LABELS.get(k, k.replace("_", " ")), _show(k, v)) for k, v in run.items()]
    return pd.DataFrame(rows, columns=["setting", "value"]).set_index("setting")


def run_header(run: Mapping[str, Any]):
    """The run header as it is shown at the top of a result page: a two-column HTML table, no cell
    truncated, titled "This run" (a pandas ``Styler``; ``.data`` is :func:`run_header_table`)."""
    table = run_header_table(run)
    table.index.name = None
    return (
        table.style.hide(axis="columns")
        .set_caption("This run")
        .set_table_styles(
            [
                {"selector": "caption", "props": "caption-side: top; font-weight: bold;"},
                {"selector": "th", "props": "text-align: left; padding-right: 1.5em;"},
                {"selector": "td", "props": "text-align: left;"},
            ]
        )
    )
