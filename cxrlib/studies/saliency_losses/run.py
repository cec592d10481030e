"""Study 02: the run: training and evaluation."""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import torch

from ...losses import SaliencyRegularizedLoss, WeightedBCELoss, positive_weights
from ...metrics import per_class_auroc, point_localization_accuracy
from ...models import build_model
from ...saliency import map_statistics
from ...train import TrainConfig, fit, fit_two_stage, predict, resolve_device
from ..common import (
    backbone_output_stride,
    check_imagenet_weights,
    mask_area_share,
    mass_in_mask_per_class,
    open_chest_dataset,
    study_train_config,
)
from ..runinfo import describe_run
from .result import ArmRun, SaliencyLossResult, headline
from .settings import Arm, SaliencyLossSettings, coherence_label

__all__ = ["run_saliency_losses"]


def _evaluate(
    model, label: str, arm: Arm, seed: int, lam: float, trained, seconds, test, boxes, classes, device
) -> ArmRun:
    history = trained.history
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
        stopped=trained.stopped,
    )


def _custom_label(lam: float, several: bool) -> str:
    return f"Custom (λ1={lam:g})" if several else "Custom"


def run_saliency_losses(settings: SaliencyLossSettings) -> SaliencyLossResult:
    """Train every arm for every seed and score it; see the module docstring."""
    t_start = time.perf_counter()
    check_imagenet_weights(settings, [settings.backbone])
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

    def evaluate(model, label, arm, seed, lam, trained, seconds) -> ArmRun:
        return _evaluate(model, label, arm, seed, lam, trained, seconds, test, boxes, classes, s.device)

    runs: list[ArmRun] = []
    diverged: list[dict] = []
    for seed in s.seeds:
        if Arm.CE in arms or Arm.MODIFIED in arms:
            model = new_model(seed)
            t0 = time.perf_counter()
            ce_runs: list[ArmRun] = []

            def record_ce(trained, first, seed=seed, t0=t0, ce_runs=ce_runs):
                if Arm.CE in arms:  # evaluate a copy: predict moves the model and sets eval mode
                    run = evaluate(copy.deepcopy(trained), "CE", Arm.CE, seed, 0.0, first, first.seconds)
                    ce_runs.append(run)

            if Arm.MODIFIED in arms:
                regularised = SaliencyRegularizedLoss(base, model, s.lambda_cd, latent=s.cd_latent)
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
                runs.append(evaluate(model, "Modified", Arm.MODIFIED, seed, s.lambda_cd, second, seconds))
            else:
                first = fit(model, train, val, base, config(seed, s.epochs))
                record_ce(model, first)
                runs += ce_runs
        if Arm.CUSTOM in arms:
            for lam in lambdas:
                model = new_model(seed)
                loss = SaliencyRegularizedLoss(base, model, lam, latent=s.cd_latent)
                result = fit(model, train, val, loss, config(seed, s.epochs))
                label = _custom_label(lam, len(lambdas) > 1)
                runs.append(evaluate(model, label, Arm.CUSTOM, seed, lam, result, result.seconds))
        if Arm.COHERENCE in arms:
            model = new_model(seed)
            loss = SaliencyRegularizedLoss(base, model, s.lambda_cd, lambda_sc=s.lambda_sc, latent=s.cd_latent)
            label = coherence_label(s.lambda_sc)
            try:
                result = fit(model, train, val, loss, config(seed, s.epochs))
            except FloatingPointError as err:  # "did not converge" in its plainest form: reported, not raised
                diverged.append({"arm": label, "seed": seed, "error": str(err)})
            else:
                runs.append(evaluate(model, label, Arm.COHERENCE, seed, s.lambda_cd, result, result.seconds))
    order = {Arm.CE.value: 0, Arm.CUSTOM.value: 1, Arm.MODIFIED.value: 2, Arm.COHERENCE.value: 3}
    runs.sort(key=lambda r: (order[r.arm], r.lambda_cd, r.seed))
    result = SaliencyLossResult(
        s, classes, runs, test, uniform_mass=mask_area_share(test) if test.has_masks else None, diverged=diverged
    )
    result.run = describe_run(
        s,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        names={"arms": {"ce": "CE", "custom": "Custom", "modified": "Modified", "coherence": "Custom + L_SC"}},
        classes=classes,
        grad_cam_grid=f"{runs[0].maps.shape[-2]}×{runs[0].maps.shape[-1]}",
    )
    result.headline = headline(result)
    return result
