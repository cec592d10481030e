"""Study 03: the run: training and evaluation."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ...data import CXRDataset, open_dataset
from ...losses import HeatmapMaskLoss, positive_weights
from ...metrics import auroc, heatmap_mass_in_mask
from ...models import build_model
from ...saliency import compute_saliency
from ...train import TrainConfig, fit, predict, resolve_device
from ..common import study_train_config
from ..runinfo import describe_run
from .result import HeatmapLossResult, ModelScore, headline
from .settings import ARMS, CCE_ARM, Experiment, HeatmapLossSettings

__all__ = ["run_heatmap_loss"]


def _mean_share(maps: torch.Tensor, masks: torch.Tensor) -> float:
    """Mean over images of the share of each ``(h, w)`` map's mass inside its ``(H, W)`` mask."""
    if len(maps) == 0:
        return float("nan")
    return float(heatmap_mass_in_mask(maps, masks).mean())


def _labelled_maps(model, data: CXRDataset, mask_keys: tuple[str, ...], device) -> dict[str, torch.Tensor]:
    """HiResCAM of each image's labelled (argmax) class ``(N, h, w)``, its logits and the masks."""
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=False)
    out: dict[str, list[torch.Tensor]] = {"maps": [], "logits": [], "labels": [], **{k: [] for k in mask_keys}}
    model.to(device).eval()
    for batch in loader:
        logits, maps = compute_saliency(model, batch["image"].to(device), "hirescam")
        index = batch["labels"].argmax(1)
        out["maps"].append(maps[torch.arange(len(index)), index].cpu())
        out["logits"].append(logits.cpu())
        out["labels"].append(batch["labels"])
        for k in mask_keys:
            out[k].append(batch[k])
    return {k: torch.cat(v) for k, v in out.items()}


def _cmr_scores(model, test: CXRDataset, device) -> dict[str, float]:
    got = _labelled_maps(model, test, ("heart_mask", "marker_mask"), device)
    correct = (got["logits"].argmax(1) == got["labels"].argmax(1)).double().mean()
    male = torch.from_numpy((test.table["sex"] == "M").to_numpy(dtype=bool, copy=True))
    has_marker = got["marker_mask"].flatten(1).any(1)
    return {
        "test accuracy": float(correct),
        "flat maps": float((got["maps"].flatten(1).amax(1) <= 0).double().mean()),
        "heart overlap": _mean_share(got["maps"], got["heart_mask"]),
        "marker overlap (male)": _mean_share(got["maps"][male & has_marker], got["marker_mask"][male & has_marker])
        if has_marker.any()
        else float("nan"),
    }


def _cmr_chance(test: CXRDataset) -> dict[str, float]:
    """What a uniform map would score: the heart's mean share of the image, and the marker's on
    male images that carry it."""
    items = [test[i] for i in range(len(test))]
    heart = np.mean([item["heart_mask"].float().mean().item() for item in items])
    marker = [item["marker_mask"].float().mean().item() for item in items if item["marker_mask"].any()]
    return {"heart overlap": float(heart), "marker overlap (male)": float(np.mean(marker)) if marker else float("nan")}


def _val_accuracy(model, val: CXRDataset, device) -> float:
    pred = predict(model, val, device=device)
    return float((pred.logits.argmax(1) == pred.labels.argmax(1)).mean())


def _cxr_scores(model, clean: CXRDataset, inverted: CXRDataset, k: int, device) -> dict[str, float]:
    pred_clean = predict(model, clean, device=device)
    pred_inv = predict(model, inverted, device=device, saliency="hirescam")
    marker = np.stack([inverted[i]["marker_mask"] for i in range(len(inverted))])
    has = marker.reshape(len(marker), -1).any(1)
    maps = torch.from_numpy(pred_inv.maps[has, k])
    return {
        "shortcut AUROC (no marker)": auroc(pred_clean.logits[:, k], pred_clean.labels[:, k]),
        "shortcut AUROC (inverted)": auroc(pred_inv.logits[:, k], pred_inv.labels[:, k]),
        "mean AUROC (no marker)": float(
            np.nanmean([auroc(pred_clean.logits[:, j], pred_clean.labels[:, j]) for j in range(len(clean.classes))])
        ),
        "map on marker": _mean_share(maps, torch.from_numpy(marker[has])),
    }


def run_heatmap_loss(settings: HeatmapLossSettings) -> HeatmapLossResult:
    """Train every group and score it; see the module docstring."""
    t_start = time.perf_counter()
    s = settings
    device = resolve_device(s.device)
    models: list[ModelScore] = []
    examples: dict[str, dict] = {}
    datasets: dict[str, CXRDataset] = {}
    sizes: dict[str, int] = {}

    def config(index: int, epochs: int) -> TrainConfig:
        return study_train_config(s, index, epochs=epochs, lr=s.lrs[index % len(s.lrs)])

    def train_group(
        experiment: str,
        n_classes: int,
        make_loss: Callable,
        train,
        val,
        epochs,
        score: Callable,
        keep: Callable,
        arms: tuple[str, ...] = ARMS,
    ) -> dict[str, torch.nn.Module]:
        first: dict[str, torch.nn.Module] = {}
        for arm in arms:
            for index in range(s.group_size):
                torch.manual_seed(index)
                model = build_model(s.backbone, n_classes)
                weight = s.heatmap_weight if arm == ARMS[1] else 0.0
                t0 = time.perf_counter()
                result = fit(model, train, val, make_loss(model, weight, arm), config(index, epochs))
                seconds = time.perf_counter() - t0
                scores = score(model)
                kept = keep(model, scores)
                lr = s.lrs[index % len(s.lrs)]
                models.append(ModelScore(experiment, arm, index, lr, kept, scores, result.history, seconds))
                if kept and arm not in first:
                    first[arm] = model
        return first

    for experiment in (Experiment(e) for e in s.experiments):
        if experiment in (Experiment.SIZE, Experiment.MARKER):
            marker = experiment is Experiment.MARKER
            ds = open_dataset(
                "synth-cmr",
                n=s.cmr_n,
                image_size=s.image_size,
                seed=s.data_seed + (1 if marker else 0),
                size_difference=not marker,
                male_marker=marker,
                progress=s.progress,
            )
            train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
            sizes[f"exp{experiment.value}"] = len(ds)
            datasets[experiment.value] = ds

            def cmr_loss(model, weight, arm):
                classification = "ce" if arm == CCE_ARM else s.classification
                return HeatmapMaskLoss(model, weight, classification, s.heatmap_form, "hirescam", mask_key="heart_mask")

            def cmr_keep(model, scores, val=val):
                scores["val accuracy"] = _val_accuracy(model, val, device)
                return scores["val accuracy"] >= s.accuracy_threshold

            first = train_group(
                experiment.value,
                len(ds.classes),
                cmr_loss,
                train,
                val,
                s.epochs,
                lambda m, test=test: _cmr_scores(m, test, device),
                cmr_keep,
                arms=((CCE_ARM,) if s.cce_control else ()) + ARMS,
            )
            examples[experiment.value] = _cmr_examples(test, first, marker, device)
            examples[experiment.value]["chance"] = _cmr_chance(test)
        else:
            common = dict(image_size=s.image_size, classes="chexpert5", label_policy="sharma2023", progress=s.progress)
            ds = open_dataset(
                "synth-cxr",
                n=s.cxr_n,
                seed=s.data_seed,
                shortcut={"class_name": s.shortcut_class, "rate": s.shortcut_rate},
                **common,
            )
            if s.shortcut_class not in ds.classes:
                raise ValueError(f"parameter 'shortcut_class': {s.shortcut_class!r} is not one of {ds.classes}")
            k = ds.classes.index(s.shortcut_class)
            clean = open_dataset("synth-cxr", n=s.cxr_test_n, seed=s.data_seed + 101, **common)
            inverted = open_dataset(
                "synth-cxr",
                n=s.cxr_test_n,
                seed=s.data_seed + 102,
                shortcut={"class_name": s.shortcut_class, "rate": 0.0},
                **common,
            )
            train, val = ds.subset("train"), ds.subset("val")
            sizes["exp3"] = len(ds)
            datasets[experiment.value] = ds
            pw = positive_weights(train.labels)

            def cxr_loss(model, weight, arm, pw=pw):
                return HeatmapMaskLoss(
                    model, weight, "bce", s.heatmap_form, "hirescam", mask_key="thorax_mask", pos_weight=pw
                )

            first = train_group(
                experiment.value,
                len(ds.classes),
                cxr_loss,
                train,
                val,
                s.cxr_epochs,
                lambda m, clean=clean, inverted=inverted, k=k: _cxr_scores(m, clean, inverted, k, device),
                lambda m, scores: True,
            )
            examples[experiment.value] = _cxr_examples(inverted, first, k, device)
            examples[experiment.value]["marker_agreement_train"] = float(
                (ds.table["shortcut_marker"].to_numpy() == (ds.info["truth"][s.shortcut_class].to_numpy() == 1)).mean()
            )
    result = HeatmapLossResult(s, models, examples, datasets)
    result.run = describe_run(
        s,
        {},
        time.perf_counter() - t_start,
        models_trained=len(models),
        images_generated=", ".join(f"{k}: {v}" for k, v in sizes.items()),
        dataset=", ".join(
            name
            for name, used in (
                ("synth-cmr", {"1", "2"} & {str(e) for e in s.experiments}),
                ("synth-cxr", "3" in {str(e) for e in s.experiments}),
            )
            if used
        ),
        seeds=list(range(s.group_size)),  # model i of each arm trains with seed i
    )
    result.headline = headline(result)
    return result


def _cmr_examples(test: CXRDataset, models: dict, marker: bool, device) -> dict:
    """One test image per class (male images with the marker in experiment 2) and both arms' maps."""
    sex = test.table["sex"].to_numpy()
    labels = test.labels.argmax(1)
    positions = []
    for k in range(len(test.classes)):
        candidates = np.flatnonzero((labels == k) & ((sex == "M") if marker else True))
        if len(candidates):
            positions.append(int(candidates[0]))
    images = torch.stack([test[p]["image"] for p in positions])
    maps = {}
    for arm, model in models.items():
        _, m = compute_saliency(model.to(device).eval(), images.to(device), "hirescam")
        maps[arm] = m.cpu().numpy()
    contours = {"heart": [test[p]["heart_mask"].numpy() for p in positions]}
    if marker:
        contours["sex marker"] = [test[p]["marker_mask"].numpy() for p in positions]
    return {
        "images": images,
        "maps": maps,
        "classes": test.classes,
        "class_index": [int(labels[p]) for p in positions],
        "contours": contours,
    }


def _cxr_examples(inverted: CXRDataset, models: dict, k: int, device) -> dict:
    """Four test images carrying the (inverted) marker, with both arms' maps of the shortcut class."""
    positions = [int(i) for i in np.flatnonzero(inverted.table["shortcut_marker"].to_numpy())[:4]]
    images = torch.stack([inverted[p]["image"] for p in positions])
    maps = {}
    for arm, model in models.items():
        _, m = compute_saliency(model.to(device).eval(), images.to(device), "hirescam")
        maps[arm] = m.cpu().numpy()
    contours = {
        f"{inverted.classes[k]} (finding)": [inverted[p]["masks"][k].numpy() for p in positions],
        "shortcut marker": [inverted[p]["marker_mask"].numpy() for p in positions],
    }
    return {
        "images": images,
        "maps": maps,
        "classes": inverted.classes,
        "class_index": [k] * len(positions),
        "contours": contours,
    }
