"""Study 01: the run: training and evaluation."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from ...losses import WeightedBCELoss, positive_weights
from ...metrics import per_class_auroc, point_localization_accuracy
from ...models import build_model
from ...train import fit, predict
from ..common import (
    backbone_output_stride,
    check_imagenet_weights,
    mask_area_share,
    mass_in_mask_per_class,
    open_chest_dataset,
    study_train_config,
)
from ..runinfo import describe_run
from .result import BackboneRun, BaselineResult
from .settings import BaselineSettings

__all__ = ["run_baseline"]


def run_baseline(settings: BaselineSettings) -> BaselineResult:
    check_imagenet_weights(settings, settings.backbones)
    t_start = time.perf_counter()
    ds = open_chest_dataset(settings)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    boxes = test.truth_boxes()
    if boxes.empty:
        rule = ds.info.get("truth_rule")
        note = f"not available: {rule}" if rule else f"not available: no truth boxes in {ds.name}'s test split"
        if not ds.truth_boxes().empty:
            note = f"not available: {ds.name}'s test split has no truth boxes (its other splits do)"
    else:
        note = "available"
    loss = WeightedBCELoss(positive_weights(train.labels))
    runs, trained = [], {}
    for backbone in settings.backbones:
        for seed in settings.seeds:
            torch.manual_seed(seed)
            model = build_model(
                backbone,
                len(ds.classes),
                pretrained=settings.pretrained,
                output_stride=backbone_output_stride(backbone, settings.output_stride),
            )
            config = study_train_config(settings, seed)
            t0 = time.perf_counter()
            result = fit(model, train, val, loss, config)
            seconds = time.perf_counter() - t0
            if seed == settings.seeds[0]:
                trained[backbone] = model
            pred = predict(model, test, device=settings.device, saliency="gradcam")
            runs.append(
                BackboneRun(
                    backbone,
                    seed,
                    result.history,
                    per_class_auroc(pred.logits, pred.labels, ds.classes),
                    point_localization_accuracy(
                        pred.maps, boxes, list(test.table["image"]), ds.classes, test.image_size
                    ),
                    mass_in_mask_per_class(test, pred.maps) if test.has_masks else pd.Series(np.nan, index=ds.classes),
                    seconds,
                    pred.maps,
                    pred.probs,
                )
            )
    result = BaselineResult(
        settings,
        ds.classes,
        runs,
        list(test.table["image"]),
        test,
        localization_note=note,
        uniform_mass=mask_area_share(test) if test.has_masks else None,
        trained=trained,
    )
    summary = result.summary()
    result.run = describe_run(
        settings,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        classes=list(ds.classes),
        grad_cam_grid=" / ".join(
            f"{r.backbone} {r.maps.shape[-2]}×{r.maps.shape[-1]}" for r in runs if r.seed == settings.seeds[0]
        ),
    )
    result.headline = {
        "run": result.run,
        "dataset": settings.dataset,
        "profile": settings.profile,
        "image_size": settings.image_size,
        "n_train": len(train),
        "n_test": len(test),
        "localization": note,
        "masks": "available" if test.has_masks else f"not available: {ds.name} has no masks",
        "backbones": {
            bb: {
                "mean_auroc": float(summary.loc[bb, "mean AUROC"]),
                "point_localization_accuracy": float(summary.loc[bb, "point loc. acc."]),
                "cam_mass_in_mask": float(summary.loc[bb, "CAM mass in mask"]),
                "flat_maps": int(sum(r.localization.loc["weighted", "flat"] for r in runs if r.backbone == bb)),
                "grad_cam_grid": [int(x) for x in next(r.maps.shape[-2:] for r in runs if r.backbone == bb)],
                "per_class_auroc": {
                    c: float(np.mean([r.auroc[c] for r in runs if r.backbone == bb])) for c in ds.classes
                },
            }
            for bb in summary.index
        },
    }
    return result
