"""``open_synth_cmr``: generate a SynthCMR set once into the decode-once cache, then open it as a
``CXRDataset`` with one-hot labels, sex, heart masks and boxes and the male-marker mask."""

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
from .config import MALE_FRACTION, VIEW, SynthCMRConfig, resolve_cmr_classes
from .parameters import sample_parameters
from .render import render_synth_cmr

__all__ = ["open_synth_cmr", "source_hash", "cache_spec"]

#: the parameters shown per image in ``ds.info["parameters"]`` (lengths in normalised image units)
_SHOWN = ("severity", "heart_scale", "lv_cavity", "lv_wall", "septal_bulge", "rv_scale", "rv_wobble", "fibrosis")


def source_hash() -> str:
    """Hash (16 hex digits) of the source text of this package's modules (and of the shared
    :mod:`cxrlib.data.generated`): the generator's version."""
    return package_source_hash(Path(__file__).parent)


def cache_spec(cfg: SynthCMRConfig) -> dict:
    """What determines a cache entry: the generator's source and the options (splits aside)."""
    return generator_cache_spec("synth-cmr", source_hash(), cfg)


def _build_cache(cfg: SynthCMRConfig, progress: bool, cache_dir: str | Path | None) -> CacheEntry:
    return build_mask_pair_entry(
        "synth-cmr",
        cache_spec(cfg),
        cfg,
        sample_parameters,
        render_synth_cmr,
        ("heart", "marker"),
        box_of,
        title="SynthCMR",
        progress=progress,
        cache_dir=cache_dir,
    )


def _views_note(views: Iterable[str] | str) -> str:
    """Views are checked (one must be SAX) but without effect: every SynthCMR image is SAX."""
    views = [views] if isinstance(views, str) else list(views)
    if VIEW not in views:
        raise ValueError(f"synth-cmr: views={views} keeps no image; every SynthCMR image is view {VIEW!r}")
    return f"every SynthCMR image is view {VIEW!r}"


@register_source("synth-cmr", needs_root=False)
def open_synth_cmr(
    *,
    n: int = 800,
    image_size: int = 64,
    seed: int = 0,
    classes: Iterable[str] | str = "all",
    size_difference: bool = True,
    male_marker: bool = False,
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
    """Open (generating once into ``cache_dir``, default ``$CXRLIB_CACHE``, then from it) a SynthCMR set.

    ``n`` short-axis cardiac-MR-like slices of ``image_size`` pixels, one per patient, in four exactly
    balanced single-label classes ``Normal, HCM, DCM, ARV`` (``classes``: ``"all"`` or a list of
    those names; only the chosen classes are generated, balanced among themselves). Labels are one-hot
    floats, never NaN. Patients are split train / val / test by ``split_fractions`` (seeded by
    ``split_seed``, default ``seed``).

    Sex (column ``sex``, ``"M"`` / ``"F"``) is drawn with the class's male fraction
    (``config.MALE_FRACTION``: ARV 2.7 : 1 as in the source study, HCM 0.6, Normal and DCM 0.5).
    ``size_difference=True`` makes male hearts and chests ``MALE_SIZE_FACTOR`` (1.12) times larger in
    every direction (heart area about ×1.25); with False nothing in the image depends on sex.
    ``male_marker=True`` draws a bright square in the bottom-right corner of every male image
    (``config.MARKER_BOX``), a non-causal shortcut correlated with the classes through sex.

    The common reader options are accepted: ``label_policy`` (checked, without effect: no uncertain
    labels), ``views`` (None or a list containing ``"SAX"``), ``load_images`` and ``on_bad`` (without
    effect); those without effect are named in ``ds.info["options_without_effect"]``.

    Items: ``ds[i]["image"]`` ``(1, H, W)``, ``"labels"`` ``(K,)`` one-hot, ``"masks"`` ``(K, H, W)``
    bool (the heart in the image's class channel, the others empty), ``"heart_mask"`` ``(H, W)`` bool
    (LV blood pool, LV myocardium, RV cavity and free wall) and ``"marker_mask"`` ``(H, W)`` bool (all
    False without a marker). ``ds.boxes``: the heart's bounding box per image, reader ``"truth"``, in
    pixels. ``ds.info``: ``config``, ``sex_counts`` (``{class: {"M": n, "F": n}}``),
    ``male_fraction`` (requested per class), ``parameters`` (a frame per image: ``severity``,
    ``heart_scale``, and ``lv_cavity``, ``lv_wall``, ``rv_scale``... in normalised image units, the
    image spanning 2), ``cache``, ``truth_readers`` and ``options_without_effect``.

    Raises ``ValueError`` naming the option for a bad one (``n < 8``, ``image_size`` outside
    [16, 1024], an unknown class, split fractions not summing to 1, ...).
    """
    cls = list(resolve_cmr_classes(classes))
    if not isinstance(split_fractions, Mapping):
        raise ValueError(f"synth-cmr: split_fractions must be a mapping split -> fraction, got {split_fractions!r}")
    cfg = SynthCMRConfig(
        n=n,
        image_size=image_size,
        seed=seed,
        classes=tuple(cls),
        size_difference=size_difference,
        male_marker=male_marker,
        split_fractions=dict(split_fractions),
    )
    without_effect = check_reader_options(
        "synth-cmr",
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
    keys = [f"cmr_{i:06d}.png" for i in range(n)]
    label = params["label"]
    onehot = np.eye(len(cls), dtype=np.float64)[label]
    sex = np.where(params["male"], "M", "F")
    table = pd.DataFrame(
        {
            "image": keys,
            "patient_id": [f"cmr_p{i:05d}" for i in range(n)],
            "study_id": [f"cmr_s{i:06d}" for i in range(n)],
            "view": VIEW,
        }
    )
    table["split"] = split_by_patient(table, cfg.split_fractions, seed if split_seed is None else split_seed)
    check_patient_leakage(table)
    table = pd.concat([table, pd.DataFrame(onehot, columns=cls)], axis=1)
    table["sex"] = sex
    table["shortcut_marker"] = params["marker"].astype(bool)
    table["original_height"] = image_size
    table["original_width"] = image_size

    boxes = truth_boxes(keys, [cls[k] for k in label], entry.array("boxes"))
    shown = pd.DataFrame({k: params[k] for k in _SHOWN}, index=pd.Index(keys, name="image"))
    for k in ("lv_cavity", "lv_wall"):
        shown[k] = shown[k] * params["heart_scale"]
    shown.insert(0, "class", [cls[k] for k in label])
    shown.insert(1, "sex", sex)
    info = {
        "config": cfg,
        "sex_counts": {c: {s: int(((label == k) & (sex == s)).sum()) for s in ("M", "F")} for k, c in enumerate(cls)},
        "male_fraction": {c: MALE_FRACTION[c] for c in cls},
        "parameters": shown,
        "cache": str(entry.path),
        "truth_readers": ["truth"],
        "options_without_effect": without_effect,
    }
    images = entry.array("images")
    heart = mask_reader(entry.array("heart"), image_size)
    marker = mask_reader(entry.array("marker"), image_size)
    masks = class_channel_masks(heart, label, len(cls), image_size)
    extras = {"heart_mask": heart, "marker_mask": marker}
    return CXRDataset("synth-cmr", cls, table, boxes, images, masks=masks, extras=extras, info=info)
