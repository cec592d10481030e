"""``open_synth_msk``: generate a SynthMSK set once into the decode-once cache, then open it as a
``CXRDataset`` with MURA's tasks (one-hot body parts, or the abnormality flag), bone and abnormality
masks and boxes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..._progress import progress_enabled
from ..cache import CacheEntry, open_or_build
from ..dataset import CXRDataset
from ..labels import resolve_policy
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
    """Hash (16 hex digits) of the source text of this package's modules: the generator's version."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_spec(cfg: SynthMSKConfig) -> dict:
    """What determines a cache entry: the generator's source and the options (splits aside)."""
    spec = {"generator": "synth-msk", "source": source_hash(), **asdict(cfg)}
    spec.pop("split_fractions")  # splits do not change pixels
    return spec


def _build_cache(cfg: SynthMSKConfig, progress: bool, cache_dir: str | Path | None) -> CacheEntry:
    n, size = cfg.n, cfg.image_size
    chunk = 128 if size <= 128 else max(1, 2**21 // size**2)
    packed = (n, size, (size + 7) // 8)

    def build(tmp: Path) -> dict:
        params = sample_parameters(cfg)
        np.savez(tmp / "params.npz", **params)
        images = np.lib.format.open_memmap(tmp / "images.npy", "w+", np.uint8, (n, size, size))
        bones = np.lib.format.open_memmap(tmp / "bone.npy", "w+", np.uint8, packed)
        abnormal = np.lib.format.open_memmap(tmp / "abnormality.npy", "w+", np.uint8, packed)
        boxes = np.zeros((n, 4), np.float64)
        for start in tqdm(range(0, n, chunk), desc=f"SynthMSK {n}×{size}px", disable=not progress, unit="chunk"):
            idx = np.arange(start, min(start + chunk, n))
            img, bone, abnormality = render_synth_msk(params, idx, size, cfg.seed)
            images[idx] = (img.numpy() * 255 + 0.5).astype(np.uint8)
            bones[idx] = np.packbits(bone.numpy(), axis=-1)
            abnormal[idx] = np.packbits(abnormality.numpy(), axis=-1)
            boxes[idx] = box_of(bone)
        images.flush(), bones.flush(), abnormal.flush()
        np.save(tmp / "boxes.npy", boxes)
        return {"n": n, "image_size": size}

    return open_or_build("synth-msk", cache_spec(cfg), build, cache_dir)


def _options_without_effect(label_policy, views, load_images, on_bad, classes: list[str]) -> dict[str, str]:
    """Check the common reader options that cannot matter for SynthMSK; returns ``{option: why}``."""
    notes: dict[str, str] = {}
    if label_policy is not None:
        resolve_policy(label_policy, classes)  # a typo or a class that is not there still raises
        notes["label_policy"] = "synth-msk has no uncertain labels"
    if views is not None:
        raise ValueError(f"synth-msk: views must be None (as for MURA, images have no view position), got {views!r}")
    if not isinstance(load_images, (bool, np.bool_)):
        raise ValueError(f"synth-msk: load_images must be True or False, got {load_images!r}")
    if not load_images:
        notes["load_images"] = "synthetic images are generated (and cached) whatever load_images says"
    if on_bad not in ("raise", "skip"):
        raise ValueError(f"synth-msk: on_bad must be 'raise' or 'skip', got {on_bad!r}")
    if on_bad == "skip":
        notes["on_bad"] = "synth-msk has no bad rows to skip"
    return notes


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
    if split_seed is not None and (not isinstance(split_seed, (int, np.integer)) or isinstance(split_seed, bool)):
        raise ValueError(f"synth-msk: split_seed must be None or an integer, got {split_seed!r}")
    without_effect = _options_without_effect(label_policy, views, load_images, on_bad, cls)
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"synth-msk: progress must be True or False, got {progress!r}")
    if cache_dir is not None and not isinstance(cache_dir, (str, Path)):
        raise ValueError(f"synth-msk: cache_dir must be None or a path, got {cache_dir!r}")

    entry = _build_cache(cfg, progress_enabled(progress), cache_dir)
    with np.load(entry.file("params.npz")) as stored:
        params = dict(stored)
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

    raw_boxes = entry.array("boxes")
    boxes = pd.DataFrame(
        {
            "image": keys,
            "class": part_names,
            "x": raw_boxes[:, 0],
            "y": raw_boxes[:, 1],
            "w": raw_boxes[:, 2],
            "h": raw_boxes[:, 3],
            "reader": "truth",
        }
    )
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
    packed_bone, packed_abnormal = entry.array("bone"), entry.array("abnormality")
    K = len(cls)
    label = params["label"]

    def bone(row: int) -> np.ndarray:
        return np.unpackbits(packed_bone[row], axis=-1, count=image_size).astype(bool)

    def abnormality(row: int) -> np.ndarray:
        return np.unpackbits(packed_abnormal[row], axis=-1, count=image_size).astype(bool)

    def masks(row: int) -> np.ndarray:
        if task is MSKTask.ABNORMALITY:
            return abnormality(row)[None]
        out = np.zeros((K, image_size, image_size), bool)
        out[label[row]] = bone(row)
        return out

    extras = {"bone_mask": bone, "abnormality_mask": abnormality}
    return CXRDataset("synth-msk", cls, table, boxes, images, masks=masks, extras=extras, info=info)
