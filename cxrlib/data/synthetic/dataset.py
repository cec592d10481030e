"""``open_synth_cxr``: generate a SynthCXR set once into the decode-once cache, then open it as a
``CXRDataset`` with labels (noise / uncertainty / policy applied), truth, boxes, masks and readers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..._progress import progress_enabled
from ..cache import CacheEntry, open_or_build
from ..dataset import CXRDataset
from ..labels import apply_label_policy, resolve_policy
from ..splits import DEFAULT_FRACTIONS, check_patient_leakage, split_by_patient
from .config import SYNTH_CLASSES, ReaderSpec, ShortcutSpec, SynthCXRConfig, resolve_classes
from .parameters import sample_parameters
from .placement import place_findings
from .readers import reader_tables
from .render import render_synth_cxr, render_thorax_mask

__all__ = ["open_synth_cxr", "source_hash", "cache_spec"]


def source_hash() -> str:
    """Hash (16 hex digits) of the source text of this package's modules: the generator's version."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_spec(cfg: SynthCXRConfig) -> dict:
    """What determines a cache entry: the generator's source and the options (splits aside)."""
    spec = {"generator": "synth-cxr", "source": source_hash(), **asdict(cfg)}
    spec.pop("split_fractions")  # splits do not change pixels
    return spec


def _build_cache(cfg: SynthCXRConfig, progress: bool, cache_dir: str | Path | None) -> CacheEntry:
    n, size = cfg.n, cfg.image_size
    chunk = 64 if size <= 256 else 16
    K = len(SYNTH_CLASSES)

    def build(tmp: Path) -> dict:
        params = place_findings(sample_parameters(cfg), cfg.seed)
        np.savez(tmp / "params.npz", **params)
        images = np.lib.format.open_memmap(tmp / "images.npy", "w+", np.uint8, (n, size, size))
        masks = np.lib.format.open_memmap(tmp / "masks.npy", "w+", np.uint8, (n, K, size, (size + 7) // 8))
        markers = np.lib.format.open_memmap(tmp / "markers.npy", "w+", np.uint8, (n, size, (size + 7) // 8))
        visible = np.lib.format.open_memmap(tmp / "visible.npy", "w+", np.bool_, (n, K))
        thorax = np.lib.format.open_memmap(tmp / "thorax.npy", "w+", np.uint8, (n, size, (size + 7) // 8))
        box_rows = []
        for start in tqdm(range(0, n, chunk), desc=f"SynthCXR {n}×{size}px", disable=not progress, unit="chunk"):
            idx = np.arange(start, min(start + chunk, n))
            img, msk, mark, boxes = render_synth_cxr(params, idx, size, cfg.seed)
            images[idx] = (img.numpy() * 255 + 0.5).astype(np.uint8)
            masks[idx] = np.packbits(msk.numpy(), axis=-1)
            markers[idx] = np.packbits(mark.numpy(), axis=-1)
            visible[idx] = msk.any(3).any(2).numpy()
            thorax[idx] = np.packbits(render_thorax_mask(params, idx, size).numpy(), axis=-1)
            box_rows += [(int(idx[r]), *rest) for r, *rest in boxes]
        images.flush(), masks.flush(), markers.flush(), visible.flush(), thorax.flush()
        pd.DataFrame(box_rows, columns=["row", "class", "x", "y", "w", "h"]).to_csv(tmp / "boxes.csv", index=False)
        return {"n": n, "image_size": size}

    return open_or_build("synth-cxr", cache_spec(cfg), build, cache_dir)


def open_synth_cxr(
    n: int = 1000,
    image_size: int = 128,
    seed: int = 0,
    classes: list[str] | tuple[str, ...] | str = tuple(SYNTH_CLASSES),
    prevalence: float | Mapping[str, float] | None = None,
    uncertain_rate: float = 0.0,
    label_noise: float = 0.0,
    label_policy: str | Mapping[str, str] = "ignore",
    studies_per_patient: int = 1,
    ap_fraction: float = 0.3,
    left_fraction: float = 0.5,
    bilateral_fraction: float = 1 / 3,
    shortcut: ShortcutSpec | Mapping | None = None,
    readers: ReaderSpec | Mapping | None = None,
    split_fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    split_seed: int | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> CXRDataset:
    """Open (generating once into ``cache_dir``, default ``$CXRLIB_CACHE``, then from it) a SynthCXR set.

    ``classes`` may be a list of names or the preset ``"chexpert5"`` / ``"nih-boxes"`` / ``"all"``.
    ``left_fraction``: probability that a one-sided finding is in the patient's left lung;
    ``bilateral_fraction``: probability that a Pleural Effusion is on both sides. Extra items:
    ``ds[i]["masks"]`` ``(K, H, W)`` bool, ``ds[i]["marker_mask"]`` ``(H, W)`` bool and
    ``ds[i]["thorax_mask"]`` ``(H, W)`` bool (lung fields and heart: where the chexpert-five findings lie).
    ``ds.info`` holds ``truth`` (true labels), ``raw_labels`` (1 / 0 / -1 as reported),
    ``severity``, ``hidden_findings`` (drawn but with an empty mask at this size, so counted
    negative; normally 0), ``redrawn_findings`` (findings moved to be visible),
    ``side_switched_findings`` (one-sided findings moved to the other lung because theirs had no
    visible place, rare) and, with readers, ``reader_labels``.
    """
    classes = resolve_classes(classes)
    if isinstance(shortcut, Mapping):
        shortcut = ShortcutSpec(**shortcut)
    if isinstance(readers, Mapping):
        readers = ReaderSpec(**readers)
    cfg = SynthCXRConfig(
        n=n,
        image_size=image_size,
        seed=seed,
        classes=classes,
        prevalence=prevalence,
        uncertain_rate=uncertain_rate,
        label_noise=label_noise,
        studies_per_patient=studies_per_patient,
        ap_fraction=ap_fraction,
        left_fraction=left_fraction,
        bilateral_fraction=bilateral_fraction,
        shortcut=shortcut,
        readers=readers,
        split_fractions=dict(split_fractions),
    )
    resolve_policy(label_policy, list(cfg.classes))  # fail before generating anything
    entry = _build_cache(cfg, progress_enabled(progress), cache_dir)
    with np.load(entry.file("params.npz")) as stored:
        params = dict(stored)
    keys = [f"synth_{i:06d}.png" for i in range(n)]
    cls = list(cfg.classes)
    kk = [SYNTH_CLASSES.index(c) for c in cls]
    invisible = params["truth"] & ~entry.array("visible")
    truth = params["truth"] & ~invisible  # a finding with an empty mask at this size is not there
    # reported labels: label noise flips, then some become uncertain (-1)
    rng = np.random.default_rng([seed, 0x1AB])
    flip = rng.random(truth.shape) < label_noise
    reported = np.where(flip, ~truth, truth).astype(float)
    uncertain = rng.random(truth.shape) < uncertain_rate
    reported[uncertain] = -1.0
    index = pd.Index(keys, name="image")
    raw = pd.DataFrame(reported[:, kk], columns=cls, index=index)
    table = pd.DataFrame(
        {
            "image": keys,
            "patient_id": [f"synth_p{p:05d}" for p in params["patient"]],
            "study_id": [f"synth_s{i:06d}" for i in range(n)],
            "view": np.where(params["ap"], "AP", "PA"),
        }
    )
    table["split"] = split_by_patient(table, split_fractions, seed if split_seed is None else split_seed).to_numpy()
    check_patient_leakage(table)
    labels = apply_label_policy(raw.reset_index(drop=True), cls, label_policy, source="synth-cxr")
    table = pd.concat([table, labels], axis=1)
    table["shortcut_marker"] = params["marker"]
    table["original_height"] = image_size
    table["original_width"] = image_size
    raw_boxes = pd.read_csv(entry.file("boxes.csv"))
    raw_boxes = raw_boxes[raw_boxes["class"].isin(cls)]
    boxes = pd.DataFrame(
        {
            "image": [keys[r] for r in raw_boxes["row"]],
            "class": raw_boxes["class"].to_numpy(),
            "x": raw_boxes["x"].to_numpy(),
            "y": raw_boxes["y"].to_numpy(),
            "w": raw_boxes["w"].to_numpy(),
            "h": raw_boxes["h"].to_numpy(),
            "reader": "truth",
        }
    )
    info = {
        "config": cfg,
        "truth": pd.DataFrame(truth[:, kk].astype(float), columns=cls, index=index),
        "raw_labels": raw,
        "severity": pd.DataFrame((params["severity"] * truth)[:, kk], columns=cls, index=index),
        "cache": str(entry.path),
        "hidden_findings": int(invisible[:, kk].sum()),
        "redrawn_findings": int((params["redraws"][:, kk] > 0).sum()),
        "side_switched_findings": int(params["side_switches"][:, kk].sum()),
    }
    if readers is not None:
        info["reader_labels"], reader_boxes = reader_tables(cfg, truth, boxes, keys)
        boxes = pd.concat([boxes, reader_boxes], ignore_index=True)
    images = entry.array("images")
    packed_masks, packed_markers = entry.array("masks"), entry.array("markers")
    packed_thorax = entry.array("thorax")

    def masks(row: int) -> np.ndarray:
        return np.unpackbits(packed_masks[row, kk], axis=-1, count=image_size).astype(bool)

    def marker(row: int) -> np.ndarray:
        return np.unpackbits(packed_markers[row], axis=-1, count=image_size).astype(bool)

    def thorax(row: int) -> np.ndarray:
        return np.unpackbits(packed_thorax[row], axis=-1, count=image_size).astype(bool)

    extras = {"marker_mask": marker, "thorax_mask": thorax}
    return CXRDataset("synth-cxr", cls, table, boxes, images, masks=masks, extras=extras, info=info)
