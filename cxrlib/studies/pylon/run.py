"""Study 08: the run: training and evaluation."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from ...data.augment import AugmentedDataset
from ...losses import WeightedBCELoss
from ...metrics import iobb_or_iou_hits, iobb_scores, per_class_auroc, point_localization_accuracy
from ...models import build_model
from ...train import fit, resolve_device
from ..common import (
    check_imagenet_weights,
    mean_ci,
    open_chest_dataset,
    study_train_config,
)
from ..runinfo import describe_run
from .result import PylonResult, PylonRun
from .settings import VARIANT_LABELS, VARIANTS, PylonSettings

__all__ = ["class_maps", "evaluate_map_model", "truth_box_area", "run_pylon"]


@torch.no_grad()
def class_maps(model, data, batch_size: int = 64, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """``(logits (N, K), maps (N, K, h, w))``: each model's native class map (its head's output,
    without ReLU: the point of a negative map is still its maximum), one forward pass per batch."""
    dev = resolve_device(device)
    model.to(dev).eval()
    logits, maps = [], []
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
        features = model.features(batch["image"].to(dev))
        m = model.class_maps(features)
        logits.append(model.pool(m).float().cpu())
        maps.append(m.float().cpu())
    return torch.cat(logits).numpy(), torch.cat(maps).numpy()


def _weighted_auroc(auroc: pd.Series, labels: np.ndarray, classes: list[str]) -> float:
    positives = np.nansum(labels == 1, axis=0).astype(float)
    values = auroc[classes].to_numpy(float)
    keep = np.isfinite(values) & (positives > 0)
    return float(np.sum(values[keep] * positives[keep]) / positives[keep].sum()) if keep.any() else float("nan")


def _iobb_per_class(maps, boxes, keys, classes, size) -> pd.DataFrame:
    """Per class: the thesis's Table 5.2 hit rate (IoBB > 0.5 or IoU > 0.5 per image, the reference
    code's ``iobb_or_iou``), and the mean IoBB over connected regions per truth box (Wang et al.'s)."""
    hits = iobb_or_iou_hits(maps, boxes, keys, classes, size)
    regions = iobb_scores(maps, boxes, keys, classes, size)
    out = pd.DataFrame(index=classes, columns=["iobb", "iobb_or_iou>0.5"], dtype=float)
    if not regions.empty:
        out["iobb"] = regions.groupby("class")["iobb"].mean()
    if not hits.empty:
        out["iobb_or_iou>0.5"] = hits.groupby("class")["hit"].mean()
    return out.reindex(classes)


def evaluate_map_model(
    name: str, seed: int, model, test, history: pd.DataFrame, seconds: float, device: str = "auto"
) -> PylonRun:
    """Score a trained map model on ``test`` (a :class:`~cxrlib.data.CXRDataset` with truth boxes):
    per-class and weighted AUROC of its logits, point localisation and IoBB of its native maps."""
    logits, maps = class_maps(model, test, device=device)
    classes = list(test.classes)
    boxes, keys = test.truth_boxes(), list(test.table["image"])
    auroc = per_class_auroc(logits, test.labels, classes)
    auroc["weighted"] = _weighted_auroc(auroc, test.labels, classes)
    return PylonRun(
        name,
        seed,
        history,
        auroc,
        point_localization_accuracy(maps, boxes, keys, classes, test.image_size),
        _iobb_per_class(maps, boxes, keys, classes, test.image_size),
        seconds,
        maps,
        logits,
    )


def truth_box_area(test) -> pd.Series:
    """Per class, the median truth-box area of ``test`` as a share of the image; ``ValueError`` when
    the split has no truth boxes (localisation cannot be scored)."""
    boxes = test.truth_boxes()
    if boxes.empty:
        raise ValueError(f"{test.name}'s test split has no truth boxes: this study scores localisation and needs them")
    h, w = test.image_size
    return ((boxes["w"] * boxes["h"]) / (h * w)).groupby(boxes["class"]).median()


def run_pylon(settings: PylonSettings) -> PylonResult:
    check_imagenet_weights(settings, ["pylon"])
    t_start = time.perf_counter()
    ds = open_chest_dataset(settings)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    box_area = truth_box_area(test)
    train_data = AugmentedDataset(train) if settings.augment else train
    loss = WeightedBCELoss()  # plain BCE, as the thesis
    runs, trained = [], {}
    for name in settings.models:
        architecture, options = VARIANTS[name]
        for seed in settings.seeds:
            torch.manual_seed(seed)
            model = build_model(
                architecture,
                len(ds.classes),
                encoder=settings.encoder,
                pretrained=settings.pretrained,
                **options,
            )
            config = study_train_config(settings, seed)
            t0 = time.perf_counter()
            fitted = fit(model, train_data, val, loss, config)
            run = evaluate_map_model(name, seed, model, test, fitted.history, time.perf_counter() - t0, settings.device)
            runs.append(run)
            if seed == settings.seeds[0]:
                trained[name] = model.cpu().eval()
    result = PylonResult(settings, list(ds.classes), runs, test, box_area, trained=trained)
    result.run = describe_run(
        settings,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        names={"models": VARIANT_LABELS},
        classes=list(ds.classes),
        map_grid=" / ".join(
            f"{VARIANT_LABELS.get(r.model, r.model)} {r.maps.shape[-2]}×{r.maps.shape[-1]}"
            for r in runs
            if r.seed == settings.seeds[0]
        ),
    )
    result.headline = {
        "run": result.run,
        "dataset": settings.dataset,
        "profile": settings.profile,
        "image_size": settings.image_size,
        "encoder": settings.encoder,
        "n_train": len(train),
        "n_test": len(test),
        "small_lesion_classes": result.small_lesion_classes,
        "models": {
            m: {
                "point_localization_weighted": result.localization_stats(m, "weighted")[0],
                "point_localization_weighted_ci95": result.localization_stats(m, "weighted")[1],
                "point_localization_macro": result.localization_stats(m, "macro")[0],
                "point_localization_per_class": {c: result.localization_stats(m, c)[0] for c in ds.classes},
                "point_localization_per_class_ci95": {c: result.localization_stats(m, c)[1] for c in ds.classes},
                "iobb_or_iou_above_half": {
                    c: mean_ci([r.iobb.loc[c, "iobb_or_iou>0.5"] for r in result._runs(m)])[0] for c in ds.classes
                },
                "auroc_weighted": result.auroc_stats(m, "weighted")[0],
                "auroc_weighted_ci95": result.auroc_stats(m, "weighted")[1],
                "auroc_macro": result.auroc_stats(m, "mean")[0],
                "per_class_auroc": {c: result.auroc_stats(m, c)[0] for c in ds.classes},
                "map_grid": [int(x) for x in result._runs(m)[0].maps.shape[-2:]],
            }
            for m in result.models
        },
    }
    cmp = result.small_lesion_comparison()
    if cmp is not None:
        result.headline["small_lesions"] = {
            "pylon_beats_gmp": cmp["pylon_beats_gmp"],
            "comparable_auroc": cmp["comparable_auroc"],
            "auroc_difference": cmp["auroc_difference"],
            "per_class": {c: {"pylon": p, "gmp": g} for c, (p, g) in cmp["per_class"].items()},
        }
    return result
