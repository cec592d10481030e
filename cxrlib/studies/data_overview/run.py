"""Study 00: the run: training and evaluation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from ...data import CXRDataset, PatientLeakageError, check_patient_leakage, open_dataset, samples
from ...data.classes import SYNTH_NAMES_OF_NIH
from ..common import open_study_dataset
from ..runinfo import describe_run
from .result import DataOverview
from .settings import DataSettings

__all__ = [
    "NIH_ATTRIBUTION",
    "finding_sizes",
    "split_audit",
    "run_data_overview",
    "gallery_positions",
    "real_beside_synthetic",
    "open_nih_sample",
]


NIH_ATTRIBUTION = (
    "Data: NIH Clinical Center, https://nihcc.app.box.com/v/ChestXray-NIHCC (Wang et al., ChestX-ray8, IEEE CVPR 2017)"
)


def finding_sizes(ds: CXRDataset, limit: int = 400) -> pd.DataFrame:
    """Finding sizes as a percentage of the image, per class (index ``ds.classes``).

    Mask columns ``count, mask_%_min, mask_%_median, mask_%_max`` (over the positive masks of up to
    ``limit`` images; NaN where the source has no masks) and ``box_%_median`` / ``boxes`` over the
    source's truth boxes (``ds.truth_boxes()``; NaN / 0 where it has none).
    """
    h, w = ds.image_size
    rows = []
    if ds.has_masks:
        for i in range(min(limit, len(ds))):
            masks = ds[i]["masks"].numpy()
            for k, c in enumerate(ds.classes):
                if masks[k].any():
                    rows.append((c, 100 * masks[k].mean()))
    mask = (
        pd.DataFrame(rows, columns=["class", "mask_%"])
        .astype({"mask_%": float})
        .groupby("class")["mask_%"]
        .agg(["count", "min", "median", "max"])
    )
    mask = mask.rename(columns={"median": "mask_%_median", "min": "mask_%_min", "max": "mask_%_max"})
    boxes = ds.truth_boxes()
    area = 100 * boxes["w"].astype(float) * boxes["h"].astype(float) / (h * w)
    box = pd.DataFrame({"box_%_median": area.groupby(boxes["class"]).median(), "boxes": boxes.groupby("class").size()})
    out = mask.join(box, how="outer").reindex(ds.classes)
    out["count"] = out["count"].fillna(0).astype(int)
    out["boxes"] = out["boxes"].fillna(0).astype(int)
    return out[["count", "mask_%_min", "mask_%_median", "mask_%_max", "box_%_median", "boxes"]]


def split_audit(ds: CXRDataset) -> pd.DataFrame:
    """Images and patients per split; the patient-level leakage check is run (it raises on a leak)."""
    check_patient_leakage(ds.table)
    g = ds.table.groupby("split")
    audit = pd.DataFrame({"images": g.size(), "patients": g["patient_id"].nunique()})
    return audit.reindex([s for s in ("train", "val", "test") if s in audit.index])


def _image_level_leaks(ds: CXRDataset, seed: int) -> int:
    """How many patients a naive image-level random split would put in two splits."""
    rng = np.random.default_rng(seed)
    naive = ds.table.assign(split=rng.choice(["train", "val", "test"], len(ds.table), p=[0.7, 0.15, 0.15]))
    try:
        check_patient_leakage(naive)
        return 0
    except PatientLeakageError as err:
        return int(str(err).split()[0])


def run_data_overview(settings: DataSettings) -> DataOverview:
    t_start = time.perf_counter()
    ds = open_study_dataset(
        settings.dataset,
        settings.data_root,
        options=dict(
            image_size=settings.image_size,
            seed=settings.data_seed,
            classes=settings.classes,
            label_policy=settings.label_policy,
            progress=settings.progress,
        ),
        synth_options=dict(
            n=settings.n,
            uncertain_rate=settings.uncertain_rate,
            studies_per_patient=settings.studies_per_patient,
            readers={"n_readers": settings.n_readers},
            shortcut={"class_name": "Pneumothorax", "rate": 0.9},
        ),
    )
    raw = ds.info.get("raw_labels")
    counts = pd.DataFrame(
        {
            "positive": (ds.table[ds.classes] == 1).sum(),
            "negative": (ds.table[ds.classes] == 0).sum(),
            "unknown": ds.table[ds.classes].isna().sum(),
        }
    )
    if raw is not None:
        counts["reported uncertain (-1)"] = (raw == -1).sum()
    elif "uncertain_counts" in ds.info:  # real sources with uncertain labels count them in the files read
        counts["reported uncertain (-1)"] = pd.Series(ds.info["uncertain_counts"])
    if "truth" in ds.info:
        counts["prevalence (truth)"] = ds.info["truth"].mean().round(3)
    sizes = finding_sizes(ds, settings.size_sample)
    audit = split_audit(ds)
    leaks = _image_level_leaks(ds, settings.data_seed)
    headline = {
        "dataset": settings.dataset,
        "images": len(ds),
        "patients": int(ds.table["patient_id"].nunique()),
        "boxes": int(sizes["boxes"].sum()),
        "masks": "available" if ds.has_masks else f"not available: {ds.name} has no masks",
        "smallest_median_mask_pct": float(sizes["mask_%_median"].min()),
        "largest_median_mask_pct": float(sizes["mask_%_median"].max()),
        "smallest_median_box_pct": float(sizes["box_%_median"].min()),
        "largest_median_box_pct": float(sizes["box_%_median"].max()),
        "image_level_split_leaking_patients": leaks,
    }
    splits = ds.table["split"].value_counts()
    run = describe_run(
        settings,
        {k: int(splits.get(k, 0)) for k in ("train", "val", "test")},
        time.perf_counter() - t_start,
        classes=list(ds.classes),
        patients=headline["patients"],
    )
    headline = {"run": run, **headline}
    return DataOverview(settings, ds, counts, sizes, audit, leaks, headline, run)


def gallery_positions(ds: CXRDataset, per_class: int = 1, extra_negative: int = 1) -> list[int]:
    """Positions of ``per_class`` images positive for each class, plus normal (all-negative) images."""
    chosen: list[int] = []
    labels = ds.table[ds.classes]
    for c in ds.classes:
        hits = [int(i) for i in labels.index[labels[c] == 1] if int(i) not in chosen][:per_class]
        chosen += hits
    normal = labels.index[(labels == 0).all(axis=1)]
    chosen += [int(i) for i in normal[:extra_negative]]
    return chosen


def real_beside_synthetic(ds: CXRDataset, nih: CXRDataset, n: int = 5) -> list:
    """Two galleries aligned column by column: ``n`` boxed real NIH images (file name and labels as
    titles, the NIH attribution as caption) and, when ``ds`` is SynthCXR, below each one a synthetic
    image positive for the same boxed finding (NIH images whose findings SynthCXR lacks are left out
    then). Returns the figures."""
    from ... import plots

    boxed = [int(i) for i in nih.table.index[nih.table["image"].isin(set(nih.boxes["image"]))]]
    synthetic: list[int] = []
    if ds.name == "synth-cxr":
        pairs, used = [], set()
        for i in boxed:
            findings = nih.boxes.loc[nih.boxes["image"] == nih.table.loc[i, "image"], "class"]
            for finding in dict.fromkeys(SYNTH_NAMES_OF_NIH.get(f, f) for f in findings):
                if finding not in ds.classes:
                    continue
                candidates = [int(j) for j in ds.table.index[ds.table[finding] == 1] if int(j) not in used]
                if candidates:
                    pairs.append((i, candidates[0]))
                    used.add(candidates[0])
                    break
            if len(pairs) == n:
                break
        boxed, synthetic = [i for i, _ in pairs], [j for _, j in pairs]
    boxed = boxed[:n]

    def title(i: int) -> str:
        return nih.table.loc[i, "image"] + "\n" + ", ".join(c for c in nih.classes if nih.table.loc[i, c] == 1)

    figures = [plots.image_gallery(nih, boxed, ncols=max(len(boxed), 1), caption=NIH_ATTRIBUTION, title_fn=title)]
    if synthetic:
        figures.append(plots.image_gallery(ds, synthetic, ncols=len(synthetic)))
    return figures


def open_nih_sample(settings: DataSettings) -> CXRDataset | None:
    """The real NIH images with boxes: those in ``settings.nih_sample_root`` (None when that folder has
    no images) or the sample shipped with cxrlib (:func:`cxrlib.data.open_nih_sample`)."""
    if not settings.nih_sample_root:
        return samples.open_nih_sample(settings.image_size)
    root = Path(settings.nih_sample_root)
    if not (root / "images").is_dir():
        return None
    return open_dataset("nih", root=root, image_size=settings.image_size, progress=False)
