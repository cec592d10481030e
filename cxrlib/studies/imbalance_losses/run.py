"""Study 04: the run: training and evaluation."""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import torch

from ...artifacts import save_artifact
from ...auc import AUCMarginObjectiveLoss, auc_finetune, class_imratio
from ...data.synthetic.config import DEFAULT_PREVALENCE
from ...losses import FocalLoss, WeightedBCELoss, positive_weights
from ...metrics import per_class_auroc, per_class_average_precision, point_localization_accuracy
from ...models import build_model
from ...train import TrainConfig, TrainResult, fit, predict
from ..common import (
    backbone_output_stride,
    check_imagenet_weights,
    open_chest_dataset,
    study_train_config,
)
from ..runinfo import describe_run
from .result import NOTEBOOK, ImbalanceLossResult, LossRun, SweepRun, headline
from .settings import LOSS_LABELS, AUCRecipe, ImbalanceLossSettings, Loss, check_losses

__all__ = [
    "TRAINING_FIELDS",
    "training_config",
    "prevalence_subsets",
    "new_model",
    "train_losses",
    "evaluate_loss_run",
    "run_imbalance_losses",
]


#: the settings that determine the trained models and so the saved logits (what 05 compares before loading)
TRAINING_FIELDS = (
    "dataset",
    "data_root",
    "n",
    "image_size",
    "classes",
    "label_policy",
    "uncertain_rate",
    "prevalence",
    "backbone",
    "output_stride",
    "focal_gamma",
    "focal_alpha",
    "auc_recipe",
    "auc_margin",
    "auc_lr",
    "auc_epochs",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "pretrained",
    "data_seed",
)


def training_config(settings) -> dict:
    """The :data:`TRAINING_FIELDS` of any settings object that has them, tuples as lists (comparable
    with what :func:`~cxrlib.artifacts.load_artifact` gives back)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(settings, k)) for k in TRAINING_FIELDS)}


def prevalence_subsets(labels: np.ndarray, prevalences, seed: int = 0) -> tuple[dict[float, np.ndarray], int]:
    """Positions of training subsets of one fixed size in which a class has each of ``prevalences``.

    ``labels (N,)`` of the class in {0, 1, NaN}; unknown rows are never chosen. Positives and negatives
    are each put in one random order (``seed``) and each subset takes the first ``k`` positives and
    the first ``size − k`` negatives (``k = max(1, round(p · size))``), so the subsets are nested. The
    size is the largest that every prevalence allows. Returns ``({p: sorted positions}, size)``;
    raises ``ValueError`` when the labels have no positive or no negative.
    """
    y = np.asarray(labels, np.float64)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if not len(pos) or not len(neg):
        raise ValueError(f"a prevalence sweep needs positives and negatives; got {len(pos)} and {len(neg)}")
    ps = [float(p) for p in prevalences]
    if not ps or any(not 0 < p < 1 for p in ps):
        raise ValueError(f"prevalences must lie strictly between 0 and 1, got {ps}")
    rng = np.random.default_rng(seed)
    pos, neg = rng.permutation(pos), rng.permutation(neg)
    size = int(min(len(pos) / max(ps), len(neg) / (1 - min(ps))))
    subsets = {}
    for p in ps:
        k = min(len(pos), max(1, round(p * size)))
        subsets[p] = np.sort(np.concatenate([pos[:k], neg[: size - k]]))
    return subsets, size


def _config(s, seed: int, epochs: int, **changes) -> TrainConfig:
    return study_train_config(s, seed, epochs=epochs, **changes)


def new_model(s, num_classes: int, seed: int) -> torch.nn.Module:
    """The study's network for ``seed`` (initialised under ``torch.manual_seed(seed)``)."""
    torch.manual_seed(seed)
    return build_model(
        s.backbone,
        num_classes,
        pretrained=s.pretrained,
        output_stride=backbone_output_stride(s.backbone, s.output_stride),
    )


def train_losses(s, train, val, seed: int, losses, classes) -> dict[str, tuple[torch.nn.Module, TrainResult, float]]:
    """Train every loss of ``losses`` for one seed on ``train`` (model selection on ``val``).

    Returns ``{loss: (model, its own stage's TrainResult, training seconds)}``. AUC-M with LibAUC's recipe
    fine-tunes a copy of the CE model (trained here even when CE itself is not asked for; its seconds
    include the CE stage); with the source's it trains from the seed's initial weights like every loss.
    ``s`` is any settings object with the :data:`TRAINING_FIELDS` and ``device``, ``progress``.
    """
    check_losses(losses)
    out: dict[str, tuple[torch.nn.Module, TrainResult, float]] = {}
    k = len(classes)
    libauc = AUCRecipe(s.auc_recipe) is AUCRecipe.LIBAUC
    if Loss.WBCE.value in losses or (Loss.AUCM.value in losses and libauc):
        model = new_model(s, k, seed)
        result = fit(model, train, val, WeightedBCELoss(positive_weights(train.labels)), _config(s, seed, s.epochs))
        out[Loss.WBCE.value] = (model, result, result.seconds)
    if Loss.FOCAL.value in losses:
        model = new_model(s, k, seed)
        result = fit(model, train, val, FocalLoss(s.focal_gamma, s.focal_alpha), _config(s, seed, s.epochs))
        out[Loss.FOCAL.value] = (model, result, result.seconds)
    if Loss.AUCM.value in losses and not libauc:
        model = new_model(s, k, seed)
        loss = AUCMarginObjectiveLoss.from_labels(train.labels, s.auc_margin, classes)
        result = fit(model, train, val, loss, _config(s, seed, s.epochs))
        out[Loss.AUCM.value] = (model, result, result.seconds)
    elif Loss.AUCM.value in losses:
        ce_model, _, ce_seconds = out[Loss.WBCE.value]
        model = copy.deepcopy(ce_model)
        # stage one of LibAUC's recipe is the CE arm above (same seed and configuration): 0 epochs here
        _, second = auc_finetune(
            model,
            train,
            val,
            _config(s, seed, 0),
            _config(s, seed, s.auc_epochs, stop_after_lr_reductions=None),
            margin=s.auc_margin,
            lr=s.auc_lr,
            weight_decay=s.weight_decay,
            classes=classes,
        )
        out[Loss.AUCM.value] = (model, second, ce_seconds + second.seconds)
    if Loss.WBCE.value not in losses:
        out.pop(Loss.WBCE.value, None)
    return out


def evaluate_loss_run(
    model, loss: str, seed: int, result: TrainResult, seconds: float, val, test, classes, device, maps: bool = True
) -> LossRun:
    """Predict ``val`` and ``test`` (with Grad-CAM on ``test`` when ``maps``) and score the test split."""
    pv = predict(model, val, device=device)
    pt = predict(model, test, device=device, saliency="gradcam" if maps else None)
    localization = float("nan")
    boxes = test.truth_boxes()
    if maps and not boxes.empty:
        table = point_localization_accuracy(pt.maps, boxes, list(test.table["image"]), classes, test.image_size)
        localization = float(table.loc["weighted", "accuracy"])
    return LossRun(
        loss=loss,
        label=LOSS_LABELS[loss],
        seed=seed,
        history=result.history,
        auroc=per_class_auroc(pt.logits, pt.labels, classes),
        average_precision=per_class_average_precision(pt.logits, pt.labels, classes),
        train_seconds=seconds,
        val_logits=pv.logits,
        val_labels=pv.labels,
        test_logits=pt.logits,
        test_labels=pt.labels,
        maps=pt.maps,
        localization=localization,
    )


def _order(losses) -> list[str]:
    return [v.value for v in Loss if v.value in losses]


def _open(s, prevalence):
    return open_chest_dataset(s, prevalence=prevalence)


def _sweep(s: ImbalanceLossSettings, ds, classes: list[str]) -> tuple[list[SweepRun], dict]:
    """Train every loss at every training prevalence of ``sweep_class`` (see the module notes)."""
    c = s.sweep_class
    k = classes.index(c)
    lo, hi = min(s.sweep_prevalences), max(s.sweep_prevalences)
    if s.dataset == "synth-cxr":
        pool_prevalence = hi / (hi + 1 - lo)  # the pool prevalence that makes the fixed training size largest
        base = {name: DEFAULT_PREVALENCE[name] if s.prevalence is None else s.prevalence for name in classes}
        pool = _open(s, {**base, c: pool_prevalence})
        where = f"a second SynthCXR set with {c} at prevalence {pool_prevalence:.2f}"
    else:
        pool, where = ds, f"the training split of {s.dataset}"
    train, val, test = pool.subset("train"), pool.subset("val"), pool.subset("test")
    subsets, size = prevalence_subsets(train.labels[:, k], s.sweep_prevalences, s.data_seed)
    test_y = test.labels[:, k]
    info = {
        "class": c,
        "n_train": size,
        "pool": where,
        "test_prevalence": float(np.nanmean(test_y)),
        "test_positives": int(np.nansum(test_y == 1)),
        "n_test": int(np.sum(~np.isnan(test_y))),
    }
    others = [j for j in range(len(classes)) if j != k]
    runs = []
    for p in sorted(subsets):
        part = train.take(subsets[p])
        y = part.labels[:, k]
        if Loss.AUCM.value in s.losses:
            class_imratio(part.labels, classes)  # every class needs positives before anything trains
        for seed in s.sweep_seeds:
            for loss, (model, _, _) in train_losses(s, part, val, seed, s.losses, classes).items():
                pred = predict(model, test, device=s.device)
                auroc = per_class_auroc(pred.logits, pred.labels, classes)
                ap = per_class_average_precision(pred.logits, pred.labels, classes)
                runs.append(
                    SweepRun(
                        loss=loss,
                        label=LOSS_LABELS[loss],
                        seed=seed,
                        prevalence=p,
                        train_prevalence=float(np.nanmean(y)),
                        n_train=len(part),
                        n_positive=int(np.nansum(y == 1)),
                        auroc=float(auroc[c]),
                        average_precision=float(ap[c]),
                        mean_auroc_others=float(np.nanmean(auroc.iloc[others])) if others else float("nan"),
                    )
                )
    order = {v: i for i, v in enumerate(_order(s.losses))}
    runs.sort(key=lambda r: (r.prevalence, order[r.loss], r.seed))
    return runs, info


def run_imbalance_losses(settings: ImbalanceLossSettings) -> ImbalanceLossResult:
    """Train every loss for every seed, score it, run the prevalence sweep and save the logits."""
    t_start = time.perf_counter()
    check_imagenet_weights(settings, [settings.backbone])
    s = settings
    ds = _open(s, s.prevalence)
    classes = list(ds.classes)
    if s.sweep_class is not None and s.sweep_class not in classes:
        raise ValueError(f"parameter 'sweep_class': {s.sweep_class!r} is not one of this run's classes {classes}")
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    if Loss.AUCM.value in s.losses:
        class_imratio(train.labels, classes)  # a class without positives fails here, before any training
    runs: list[LossRun] = []
    for seed in s.seeds:
        for loss, (model, result, seconds) in train_losses(s, train, val, seed, s.losses, classes).items():
            runs.append(evaluate_loss_run(model, loss, seed, result, seconds, val, test, classes, s.device))
    order = {v: i for i, v in enumerate(_order(s.losses))}
    runs.sort(key=lambda r: (order[r.loss], r.seed))
    sweep, sweep_info = _sweep(s, ds, classes) if s.sweep_class is not None else ([], {})
    artifact = save_artifact(
        NOTEBOOK,
        "logits",
        {
            "config": training_config(s),
            "profile": s.profile,
            "classes": classes,
            "runs": [
                {
                    "loss": r.loss,
                    "seed": r.seed,
                    "val_logits": r.val_logits,
                    "val_labels": r.val_labels,
                    "test_logits": r.test_logits,
                    "test_labels": r.test_labels,
                    "train_seconds": r.train_seconds,
                }
                for r in runs
            ],
        },
    )
    known = ~np.isnan(train.labels)
    prevalence = pd.Series((train.labels == 1).sum(0) / known.sum(0).clip(1), index=classes)
    result = ImbalanceLossResult(
        s, classes, runs, sweep, sweep_info, prevalence, test_data=test, artifact=str(artifact)
    )
    first_maps = next((r.maps for r in runs if r.maps is not None), None)
    result.run = describe_run(
        s,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        names={"losses": LOSS_LABELS},
        classes=classes,
        grad_cam_grid=f"{first_maps.shape[-2]}×{first_maps.shape[-1]}" if first_maps is not None else "none",
        **({"sweep_train_images": sweep_info["n_train"]} if sweep_info else {}),
    )
    result.headline = headline(result)
    return result
