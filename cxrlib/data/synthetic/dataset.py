"""``open_synth_cxr``: generate a SynthCXR set once into the decode-once cache, then open it as a
``CXRDataset`` with labels (noise / uncertainty / policy applied), truth, boxes, masks and readers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..._progress import progress_enabled
from ...rng import random_stream
from ..cache import CacheEntry
from ..dataset import CXRDataset
from ..generated import (
    build_generated,
    generator_cache_spec,
    load_params,
    mask_reader,
    package_source_hash,
    truth_boxes,
)
from ..labels import apply_label_policy, resolve_policy
from ..splits import DEFAULT_FRACTIONS, check_patient_leakage, split_by_patient
from .config import SYNTH_CLASSES, ReaderSpec, ShortcutSpec, SynthCXRConfig, resolve_classes
from .parameters import sample_parameters
from .placement import place_findings
from .readers import reader_tables
from .render import render_synth_cxr, render_thorax_mask

__all__ = ["open_synth_cxr", "source_hash", "cache_spec"]


def source_hash() -> str:
    """Hash (16 hex digits) of the source text of this package's modules (and of the shared
    :mod:`cxrlib.data.generated`): the generator's version."""
    return package_source_hash(Path(__file__).parent)


def cache_spec(cfg: SynthCXRConfig) -> dict:
    """What determines a cache entry: the generator's source and the options (splits aside)."""
    return generator_cache_spec("synth-cxr", source_hash(), cfg)


def _build_cache(cfg: SynthCXRConfig, progress: bool, cache_dir: str | Path | None) -> CacheEntry:
    size, K = cfg.image_size, len(SYNTH_CLASSES)
    box_rows: list[tuple] = []

    def render(params: dict[str, np.ndarray], idx: np.ndarray) -> tuple:
        img, msk, mark, boxes = render_synth_cxr(params, idx, size, cfg.seed)
        box_rows.extend((int(idx[r]), *rest) for r, *rest in boxes)
        thorax = render_thorax_mask(params, idx, size)
        return img, {"masks": msk, "markers": mark, "thorax": thorax, "visible": msk.any(3).any(2)}

    def finish(tmp: Path) -> None:
        pd.DataFrame(box_rows, columns=["row", "class", "x", "y", "w", "h"]).to_csv(tmp / "boxes.csv", index=False)

    return build_generated(
        "synth-cxr",
        cache_spec(cfg),
        cfg.n,
        size,
        lambda: place_findings(sample_parameters(cfg), cfg.seed),
        render,
        masks={"masks": (K,), "markers": (), "thorax": ()},
        arrays={"visible": ((K,), np.bool_)},
        title="SynthCXR",
        chunk=64 if size <= 256 else 16,
        progress=progress,
        cache_dir=cache_dir,
        finish=finish,
    )


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
    params = load_params(entry)
    keys = [f"synth_{i:06d}.png" for i in range(n)]
    cls = list(cfg.classes)
    kk = [SYNTH_CLASSES.index(c) for c in cls]
    invisible = params["truth"] & ~entry.array("visible")
    truth = params["truth"] & ~invisible  # a finding with an empty mask at this size is not there
    # reported labels: label noise flips, then some become uncertain (-1)
    rng = random_stream(seed, 0x1AB)
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
    boxes = truth_boxes(
        [keys[r] for r in raw_boxes["row"]], raw_boxes["class"].to_numpy(), raw_boxes[["x", "y", "w", "h"]].to_numpy()
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
    masks = mask_reader(entry.array("masks"), image_size, kk)
    marker = mask_reader(entry.array("markers"), image_size)
    thorax = mask_reader(entry.array("thorax"), image_size)
    extras = {"marker_mask": marker, "thorax_mask": thorax}
    return CXRDataset("synth-cxr", cls, table, boxes, images, masks=masks, extras=extras, info=info)
