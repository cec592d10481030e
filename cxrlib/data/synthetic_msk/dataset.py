"""``open_synth_msk``: generate a SynthMSK set once into the decode-once cache, then open it as a
``CXRDataset`` with MURA's tasks (one-hot body parts, or the abnormality flag), bone and abnormality
masks and boxes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..._progress import progress_enabled
from ..cache import CacheEntry
from ..dataset import CXRDataset
from ..generated import (
    build_mask_pair_entry,
    check_reader_options,
    class_channel_masks,
    generator_cache_spec,
    load_params,
    mask_reader,
    package_source_hash,
    truth_boxes,
)
from ..registry import register_source
from ..splits import DEFAULT_FRACTIONS, check_patient_leakage, split_by_patient
from ..synthetic.shapes import box_of
from .config import MSK_CLASSES, MSKTask, SynthMSKConfig, resolve_msk_classes, resolve_task
from .parameters import FINDINGS, sample_parameters
from .render import render_synth_msk

__all__ = ["open_synth_msk", "source_hash", "cache_spec"]

#: the parameters shown per image in ``ds.info["parameters"]``
_SHOWN = ("size", "zoom", "rot", "margin", "contrast", "gamma", "noise")


def source_hash() -> str:
    """Hash (16 hex digits) of the source text of this package's modules (and of the shared
    :mod:`cxrlib.data.generated`): the generator's version."""
    return package_source_hash(Path(__file__).parent)


def cache_spec(cfg: SynthMSKConfig) -> dict:
    """What determines a cache entry: the generator's source and the options (splits aside)."""
    return generator_cache_spec("synth-msk", source_hash(), cfg)


def _build_cache(cfg: SynthMSKConfig, progress: bool, cache_dir: str | Path | None) -> CacheEntry:
    return build_mask_pair_entry(
        "synth-msk",
        cache_spec(cfg),
        cfg,
        sample_parameters,
        render_synth_msk,
        ("bone", "abnormality"),
        box_of,
        title="SynthMSK",
        progress=progress,
        cache_dir=cache_dir,
    )


def _views_note(views: Iterable[str] | str) -> str:
    """SynthMSK takes no views: any raises, as for MURA."""
    raise ValueError(f"synth-msk: views must be None (as for MURA, images have no view position), got {views!r}")


@register_source("synth-msk", needs_root=False)
def open_synth_msk(
    *,
    n: int = 1000,
    image_size: int = 64,
    seed: int = 0,
    task: MSKTask | str = MSKTask.BODY_PART,
    classes: Iterable[str] | str = "all",
    abnormal_rate: float = 0.4,
    cast_rate: float = 0.04,
    images_per_patient: int = 2,
    split_fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    split_seed: int | None = None,
    label_policy: str | Mapping[str, str] | None = None,
    views: Iterable[str] | str | None = None,
    load_images: bool = True,
    on_bad: str = "raise",
    progress: bool = True,
    workers: int | None = None,
    cache_dir: str | Path | None = None,
) -> CXRDataset:
    """Open (generating once into ``cache_dir``, default ``$CXRLIB_CACHE``, then from it) a SynthMSK set.

    ``n`` MURA-like musculoskeletal radiographs of ``image_size`` pixels: the seven body parts
    ``XR_ELBOW, XR_FINGER, XR_FOREARM, XR_HAND, XR_HUMERUS, XR_SHOULDER, XR_WRIST`` (MURA's names and
    order) as bones with cortical rims in a soft-tissue envelope, frontal and lateral projections,
    random pose, magnification, exposure and noise; a plaster cast or metal now and then.
    ``images_per_patient`` images per patient (frontal, lateral, ...), balanced over the body parts
    by patient, split train / val / test by patient (``split_fractions``, seeded by ``split_seed``,
    default ``seed``). ``abnormal_rate`` of the patients show a fracture (two thirds) or orthopaedic
    hardware (a third); ``cast_rate`` of the normal patients (eight times as many abnormal ones)
    wear a cast.

    ``task``: ``"body-part"`` (the labels are the body parts, one-hot; ``classes`` is ``"all"`` or a
    list of body parts, and only those are generated) or ``"abnormality"`` (one class
    ``"Abnormal"``, over all seven body parts), as ``open_dataset("mura", task=...)``.

    Table columns beyond the contract: ``body_part`` (MURA's name), ``abnormal`` (1.0 / 0.0, both
    tasks), ``finding`` (``"none"``, ``"fracture"``, ``"hardware"``), ``cast`` and ``lateral`` (bool),
    ``original_height``/``original_width``. The view column is None, as MURA's.

    The common reader options are accepted: ``label_policy`` (checked, without effect: no uncertain
    labels), ``views`` (must be None), ``load_images`` and ``on_bad`` (without effect); those without
    effect are named in ``ds.info["options_without_effect"]``.

    Items: ``ds[i]["image"]`` ``(1, H, W)``, ``"labels"`` ``(K,)`` (never NaN), ``"masks"``
    ``(K, H, W)`` bool (body-part task: the bones in the image's class channel, the others empty;
    abnormality task: the fracture site or metal), ``"bone_mask"`` and ``"abnormality_mask"``
    ``(H, W)`` bool. ``ds.boxes``: the bones' bounding box per image, reader ``"truth"``, class the
    body part, in pixels. ``ds.info``: ``config``, ``task``, ``class_counts``, ``abnormal_counts``
    (per body part), ``parameters`` (a frame per image), ``cache``, ``truth_readers`` and
    ``options_without_effect``.

    Raises ``ValueError`` naming the option for a bad one (``n < 8``, ``image_size`` outside
    [16, 1024], an unknown task or class, a rate outside [0, 1], split fractions not summing to 1, ...).
    """
    task = resolve_task(task)
    cls = list(resolve_msk_classes(classes, task))
    body_parts = tuple(cls) if task is MSKTask.BODY_PART else tuple(MSK_CLASSES)
    if not isinstance(split_fractions, Mapping):
        raise ValueError(f"synth-msk: split_fractions must be a mapping split -> fraction, got {split_fractions!r}")
    cfg = SynthMSKConfig(
        n=n,
        image_size=image_size,
        seed=seed,
        body_parts=body_parts,
        abnormal_rate=abnormal_rate,
        cast_rate=cast_rate,
        images_per_patient=images_per_patient,
        split_fractions=dict(split_fractions),
    )
    without_effect = check_reader_options(
        "synth-msk",
        cls,
        split_seed=split_seed,
        label_policy=label_policy,
        views=views,
        load_images=load_images,
        on_bad=on_bad,
        progress=progress,
        cache_dir=cache_dir,
        check_views=_views_note,
        workers=workers,
    )

    entry = _build_cache(cfg, progress_enabled(progress), cache_dir)
    params = load_params(entry)
    keys = [f"msk_{i:06d}.png" for i in range(n)]
    part_names = np.array(MSK_CLASSES, dtype=object)[params["part"]]
    abnormal = params["abnormal"].astype(bool)
    patients = [f"msk_p{p:05d}" for p in params["patient"]]
    table = pd.DataFrame(
        {
            "image": keys,
            "patient_id": patients,
            "study_id": [f"{p}/{b}/study1" for p, b in zip(patients, part_names)],
            "view": None,
        }
    )
    table["split"] = split_by_patient(table, cfg.split_fractions, seed if split_seed is None else split_seed)
    check_patient_leakage(table)
    if task is MSKTask.BODY_PART:
        labels = np.eye(len(cls), dtype=np.float64)[params["label"]]
    else:
        labels = abnormal.astype(np.float64)[:, None]
    table = pd.concat([table, pd.DataFrame(labels, columns=cls)], axis=1)
    table["body_part"] = part_names
    table["abnormal"] = abnormal.astype(float)
    table["finding"] = np.array(FINDINGS, dtype=object)[params["finding"]]
    table["cast"] = params["cast"].astype(bool)
    table["lateral"] = params["lateral"].astype(bool)
    table["original_height"] = image_size
    table["original_width"] = image_size

    boxes = truth_boxes(keys, part_names, entry.array("boxes"))
    shown = pd.DataFrame({k: params[k] for k in _SHOWN}, index=pd.Index(keys, name="image"))
    shown.insert(0, "body_part", part_names)
    shown.insert(1, "lateral", params["lateral"].astype(bool))
    shown.insert(2, "finding", table["finding"].to_numpy())
    info = {
        "config": cfg,
        "task": task.value,
        "class_counts": table["body_part"].value_counts().reindex(list(body_parts)).to_dict(),
        "abnormal_counts": table.groupby("body_part")["abnormal"].sum().astype(int).to_dict(),
        "parameters": shown,
        "cache": str(entry.path),
        "truth_readers": ["truth"],
        "options_without_effect": without_effect,
    }
    images = entry.array("images")
    bone = mask_reader(entry.array("bone"), image_size)
    abnormality = mask_reader(entry.array("abnormality"), image_size)
    in_class_channel = class_channel_masks(bone, params["label"], len(cls), image_size)

    def masks(row: int) -> np.ndarray:
        return abnormality(row)[None] if task is MSKTask.ABNORMALITY else in_class_channel(row)

    extras = {"bone_mask": bone, "abnormality_mask": abnormality}
    return CXRDataset("synth-msk", cls, table, boxes, images, masks=masks, extras=extras, info=info)
