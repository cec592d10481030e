"""What every study shares: profiles, settings resolution and opening its dataset."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..data import CXRDataset, open_dataset
from ..data.sources.common import COMMON_OPTIONS
from ..metrics import heatmap_mass_in_mask, mean_confidence_interval
from ..models import Backbone
from ..models.backbones import NATIVE_STRIDE
from ..models.weights import require_imagenet_weights
from ..train import TrainConfig
from .parameters import PRESET, ParameterError, Profile, coerce_parameter, resolve_settings

__all__ = [
    "Profile",
    "PRESET",
    "ParameterError",
    "coerce_parameter",
    "resolve_settings",
    "open_study_dataset",
    "boxed_examples",
    "boxed_overlay_figure",
    "check_backbone",
    "open_chest_dataset",
    "study_train_config",
    "mean_ci",
    "seed_mean_and_half_width",
    "mass_in_mask_per_class",
    "mask_area_share",
    "backbone_output_stride",
    "check_imagenet_weights",
]


def open_study_dataset(
    dataset: str,
    data_root: str | None,
    *,
    options: dict[str, Any],
    synth_options: dict[str, Any] | None = None,
    source_options: dict[str, Any] | None = None,
) -> CXRDataset:
    """Open a study's dataset: SynthCXR or any real source, with one set of options.

    ``options`` are reader options every source takes (``image_size``, ``classes``,
    ``label_policy``, ``seed``, ``progress``...; see ``cxrlib.data.sources.common.COMMON_OPTIONS``);
    a None value is left out (the source's default). ``synth_options`` are SynthCXR-only generator
    options (``n``, ``studies_per_patient``, ``shortcut``...): they go to ``synth-cxr`` only; for a
    real source they are not passed, and their names are listed in ``ds.info["study_options_not_used"]``.
    ``source_options`` go to a real source's reader only (VinDr-CXR's ``fractions``). A real source
    needs ``data_root``.
    """
    unknown = sorted(set(options) - set(COMMON_OPTIONS))
    if unknown:
        raise ValueError(
            f"study options {unknown} are not common reader options {list(COMMON_OPTIONS)}; "
            "pass SynthCXR-only options as synth_options"
        )
    given = {k: v for k, v in options.items() if v is not None}
    if dataset == "synth-cxr":
        return open_dataset(dataset, **given, **(synth_options or {}))
    ds = open_dataset(dataset, root=data_root, **given, **(source_options or {}))
    ds.info["study_options_not_used"] = sorted(synth_options or {})
    return ds


def boxed_examples(test: CXRDataset, per_class: int = 1) -> tuple[list[int], list[int]]:
    """Positions in ``test`` and class indices of ``per_class`` boxed positives of every class."""
    boxes = test.truth_boxes()
    images = test.table["image"].to_numpy()
    positions, class_index = [], []
    for k, c in enumerate(test.classes):
        for key in list(dict.fromkeys(boxes.loc[boxes["class"] == c, "image"]))[:per_class]:
            positions.append(int(np.flatnonzero(images == key)[0]))
            class_index.append(k)
    return positions, class_index


def boxed_overlay_figure(test: CXRDataset, maps: Mapping[str, np.ndarray], per_class: int = 1, **options):
    """Saliency overlays of every model (``maps``: name → ``(N_test, K, h, w)``) on ``per_class``
    boxed test images per class, with the truth boxes; None when no test image has a box. ``options``
    go to :func:`cxrlib.plots.saliency_overlays` (e.g. ``value_label``)."""
    from .. import plots

    positions, class_index = boxed_examples(test, per_class)
    if not positions:
        return None
    images = torch.stack([test[p]["image"] for p in positions])
    truth = test.truth_boxes()
    boxes = [
        truth[(truth["image"] == test.table.loc[p, "image"]) & (truth["class"] == test.classes[k])]
        for p, k in zip(positions, class_index, strict=True)
    ]
    return plots.saliency_overlays(
        images, {name: m[positions] for name, m in maps.items()}, test.classes, class_index, boxes, **options
    )


def check_backbone(value: str, parameter: str = "backbone") -> None:
    """Raise ``ValueError`` naming the parameter when ``value`` is not a known backbone."""
    known = [b.value for b in Backbone]
    if value not in known:
        raise ValueError(f"parameter {parameter!r}: unknown {value!r}; use one of {known}")


def open_chest_dataset(settings: Any, **synth_changes: Any) -> CXRDataset:
    """The dataset of a chest study from its settings (``dataset``, ``data_root``, ``image_size``,
    ``classes``, ``label_policy``, ``data_seed``, ``progress``; for SynthCXR also ``n``,
    ``uncertain_rate`` and ``prevalence``): :func:`open_study_dataset` with one set of names.
    ``synth_changes`` replace or add SynthCXR-only options (e.g. ``prevalence=``, ``readers=``)."""
    return open_study_dataset(
        settings.dataset,
        settings.data_root,
        options=dict(
            image_size=settings.image_size,
            classes=settings.classes,
            label_policy=settings.label_policy,
            seed=settings.data_seed,
            progress=settings.progress,
        ),
        synth_options={
            "n": settings.n,
            "uncertain_rate": settings.uncertain_rate,
            "prevalence": settings.prevalence,
            **synth_changes,
        },
    )


def study_train_config(settings: Any, seed: int, **changes: Any) -> TrainConfig:
    """The :class:`~cxrlib.train.TrainConfig` of one model of a study: those of ``epochs``, ``lr``,
    ``weight_decay``, ``batch_size``, ``device`` and ``progress`` the settings have, the given seed,
    stop at the second learning-rate reduction; ``changes`` override any field."""
    shared = ("epochs", "lr", "weight_decay", "batch_size", "device", "progress")
    values = {name: getattr(settings, name) for name in shared if hasattr(settings, name)}
    return TrainConfig(**{"seed": seed, "stop_after_lr_reductions": 2, **values, **changes})


def mean_ci(values) -> tuple[float, float]:
    """``mean_confidence_interval`` of the values that are numbers; ``(nan, nan)`` when none is."""
    v = np.asarray(values, float)
    return mean_confidence_interval(v) if np.isfinite(v).any() else (float("nan"), float("nan"))


def seed_mean_and_half_width(series: Mapping[str, list[pd.Series]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per row label (an arm, a loss, a model), the mean over its seeds' series (e.g. per-class AUROC)
    and the 95 % half-width of that mean (NaN with one seed): two frames, rows = labels, columns = the
    series' index."""
    frames = {label: pd.concat(runs, axis=1) for label, runs in series.items()}
    mean = pd.DataFrame({label: f.mean(axis=1) for label, f in frames.items()}).T
    half = pd.DataFrame(
        {label: f.apply(lambda row: mean_ci(row.to_numpy())[1], axis=1) for label, f in frames.items()}
    ).T
    return mean, half


def _mean_over_positive_masks(ds, score: Callable[[int, int, torch.Tensor], float]) -> pd.Series:
    """Per class, the mean of ``score(i, k, mask)`` over the images positive for that class that have
    a non-empty truth mask (NaN for a class without any)."""
    shares = {c: [] for c in ds.classes}
    for i in range(len(ds)):
        item = ds[i]
        for k, c in enumerate(ds.classes):
            if item["labels"][k] == 1 and item["masks"][k].any():
                shares[c].append(float(score(i, k, item["masks"][k])))
    return pd.Series({c: np.mean(v) if v else np.nan for c, v in shares.items()})


def mass_in_mask_per_class(ds, maps: np.ndarray) -> pd.Series:
    """Per class, the mean share of the map mass of ``maps (N, K, h, w)`` inside the truth mask, over the
    images of ``ds`` positive for that class (NaN for a class without a masked positive)."""
    return _mean_over_positive_masks(ds, lambda i, k, mask: heatmap_mass_in_mask(torch.from_numpy(maps[i, k]), mask))


def mask_area_share(ds) -> pd.Series:
    """Per class, the mean share of the image covered by the truth mask over positive images: the
    mass-in-mask score of a uniform map (chance level), to read the Grad-CAM shares against."""
    return _mean_over_positive_masks(ds, lambda i, k, mask: mask.float().mean())


def backbone_output_stride(backbone: str, requested: int | None) -> int | None:
    """The requested output stride, or the backbone's own where it is coarser-only (VGG-19 is 16 at most)."""
    if requested is None:
        return None
    return min(requested, NATIVE_STRIDE[Backbone(backbone)])


def check_imagenet_weights(settings: Any, backbones: list[str] | tuple[str, ...]) -> None:
    """Stop before anything trains when ``settings.pretrained`` asks for ImageNet weights that are not on
    this machine (:class:`cxrlib.models.MissingWeightsError` names each file, its folder and the way to
    run without it). ``backbones``: the models the run builds (decoder models use ``settings.encoder``)."""
    if getattr(settings, "pretrained", False):
        require_imagenet_weights(list(backbones), encoder=getattr(settings, "encoder", None))
