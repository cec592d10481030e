"""Study 01: weighted-BCE baselines (DenseNet-121, ResNet-101, VGG-19) with Grad-CAM (Sharma and P. 2023, §4.5).

Each backbone is trained with weighted BCE on the CheXpert-five labels (Sharma and P. (2023)'s uncertain-label
policy), evaluated on the held-out test split (per-class AUROC), and its Grad-CAM maps are
scored against the ground truth: point localisation accuracy on the source's truth boxes
(``CXRDataset.truth_boxes()``) and the share of heatmap mass inside the finding's mask.

Any source runs: ``dataset="nih"`` (or ``chexpert``, ``mimic``, ``vindr``, ``mura``) with
``data_root``; ``image_size``, ``classes``, ``label_policy`` and ``data_seed`` reach the reader,
the SynthCXR-only settings (``n``, ``uncertain_rate``, ``prevalence``) do not. Where the test split
has no truth boxes (CheXpert, MIMIC, MURA) localisation is reported as not available (None in the
headline), and where there are no masks (every real source) so is the mask share. ``classes`` must
be one the source has: ``"chexpert5"`` exists for SynthCXR, CheXpert, MIMIC and NIH; VinDr-CXR
(no Edema) and MURA need ``"all"`` or a list. MURA's body-part task (seven one-hot classes) is
trained like any other: multi-label weighted BCE, one AUROC per body part (one-vs-rest).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..losses import WeightedBCELoss, positive_weights
from ..metrics import per_class_auroc, point_localization_accuracy
from ..models import build_model
from ..train import fit, predict
from .common import (
    backbone_output_stride,
    boxed_overlay_figure,
    check_backbone,
    mask_area_share,
    mass_in_mask_per_class,
    mean_ci,
    open_chest_dataset,
    resolve_settings,
    study_train_config,
)
from .prose import fmt
from .runinfo import describe_run

__all__ = ["BaselineSettings", "BackboneRun", "BaselineResult", "run_baseline", "baseline_settings"]


@dataclass
class BaselineSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 1500
    image_size: int = 64
    classes: str | tuple[str, ...] = "chexpert5"  #: a preset ("chexpert5", "all"...) or class names
    label_policy: str = "sharma2023"
    uncertain_rate: float = 0.1
    prevalence: float | None = 0.25
    backbones: tuple[str, ...] = ("densenet121", "resnet101", "vgg19")
    output_stride: int | None = None  #: 8, 16 or 32 (None: each backbone's own); sets the Grad-CAM grid
    epochs: int = 6
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seeds: tuple[int, ...] = (0,)
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.backbones:
            raise ValueError("parameter 'backbones': empty list; give at least one backbone")
        for backbone in self.backbones:
            check_backbone(backbone, "backbones")
        if self.output_stride not in (None, 8, 16, 32):
            raise ValueError(f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min. Three deep backbones trained from scratch
#: do not fit the default budget, so the CPU profiles train DenseNet-121 (the source's model) beside a
#: small CNN, at output stride 8 so that Grad-CAM has an 8×8 grid at 64 px; ``full`` (a GPU box)
#: compares all three backbones of the source at 224 px with 14×14 maps and the source's Adam 1e-4.
PRESETS = {
    "smoke": {"n": 600, "image_size": 64, "epochs": 4, "backbones": ("small-cnn", "densenet121"), "output_stride": 8},
    "default": {
        "n": 1500,
        "image_size": 64,
        "epochs": 5,
        "backbones": ("densenet121", "small-cnn"),
        "output_stride": 8,
    },
    "full": {
        "n": 20000,
        "image_size": 224,
        "epochs": 15,
        "batch_size": 64,
        "lr": 1e-4,
        "seeds": (0, 1, 2, 3, 4),
        "backbones": ("densenet121", "resnet101", "vgg19"),
        "output_stride": 16,
    },
}


def baseline_settings(profile: str = "default", **overrides) -> BaselineSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(BaselineSettings, PRESETS, profile, **overrides)


@dataclass
class BackboneRun:
    backbone: str
    seed: int
    history: pd.DataFrame
    auroc: pd.Series  # per class + "mean"
    localization: pd.DataFrame  # point localisation per class
    mass_in_mask: pd.Series  # per class, mean share of Grad-CAM mass inside the truth mask
    train_seconds: float
    maps: np.ndarray  # (N_test, K, h, w) Grad-CAM
    probs: np.ndarray  # (N_test, K)


@dataclass
class BaselineResult:
    settings: BaselineSettings
    classes: list[str]
    runs: list[BackboneRun]
    test_keys: list[str]
    test_data: object = None  # the test CXRDataset
    headline: dict = field(default_factory=dict)
    localization_note: str = "available"  #: "available", or why localisation is not measured
    run: dict = field(default_factory=dict)  #: the run header (see ``cxrlib.studies.runinfo``)
    uniform_mass: pd.Series | None = None  #: per class, a uniform map's mass in mask (None without masks)

    @property
    def localization_available(self) -> bool:
        return self.localization_note == "available"

    def overlay_figure(self, per_class: int = 1):
        """Grad-CAM overlays of every backbone (first seed) on ``per_class`` boxed test images per
        class, with the truth boxes; None when no test image has a box."""
        first = self.settings.seeds[0]
        maps = {r.backbone: r.maps for r in self.runs if r.seed == first}
        return boxed_overlay_figure(self.test_data, maps, per_class)

    def summary(self) -> pd.DataFrame:
        """One row per backbone: mean AUROC, point accuracy and mask share (mean, and the 95% CI
        half-width across seeds when there are several)."""
        several = len(set(r.seed for r in self.runs)) > 1
        rows = []
        for bb in dict.fromkeys(r.backbone for r in self.runs):
            runs = [r for r in self.runs if r.backbone == bb]
            row = {"backbone": bb, "seeds": len(runs)}
            for name, values in {
                "mean AUROC": [r.auroc["mean"] for r in runs],
                "point loc. acc.": [r.localization.loc["weighted", "accuracy"] for r in runs],
                "CAM mass in mask": [r.mass_in_mask.mean() for r in runs],
                "training time (s)": [round(r.train_seconds) for r in runs],
            }.items():
                mean, half = mean_ci(values)
                row[name] = mean
                if several:
                    row[f"{name} ±95%"] = half
            rows.append(row)
        return pd.DataFrame(rows).set_index("backbone")

    def per_class_auroc(self) -> pd.DataFrame:
        return pd.DataFrame({f"{r.backbone} (seed {r.seed})": r.auroc for r in self.runs}).T

    def per_class_localization(self) -> pd.DataFrame:
        """Point localisation accuracy per class (rows) and run (columns), with the flat-map count."""
        columns = {}
        for r in self.runs:
            columns[f"{r.backbone} s{r.seed}"] = r.localization["accuracy"]
            columns[f"{r.backbone} s{r.seed}: flat maps"] = r.localization["flat"]
        table = pd.DataFrame(columns)
        table.insert(0, "boxes", self.runs[0].localization["n"] if self.runs else 0)
        return table

    def mass_in_mask_table(self) -> pd.DataFrame:
        """Grad-CAM mass inside the truth mask per class and run, beside the uniform map's share."""
        table = pd.DataFrame({f"{r.backbone} s{r.seed}": r.mass_in_mask for r in self.runs})
        if self.uniform_mass is not None:
            table["uniform map (chance)"] = self.uniform_mass
        return table

    def discussion(self) -> str:
        """What the numbers above say, written from them (Markdown)."""
        return baseline_discussion(self)


def baseline_discussion(result: BaselineResult) -> str:
    """A paragraph per finding, generated from ``result`` so the text cannot contradict the tables."""
    s, summary = result.settings, result.summary()
    run = result.run
    lines = []
    auc = summary["mean AUROC"].sort_values(ascending=False)
    lines.append(
        f"**Discrimination.** On {s.dataset} at {s.image_size} px ({run.get('n_train', '?')} training images, "
        f"at most {s.epochs} epochs, {'ImageNet weights' if s.pretrained else 'trained from scratch'}, "
        f"{run.get('device', 'device not recorded')}), mean test AUROC was "
        + ", ".join(f"{fmt(v)} for {bb}" for bb, v in auc.items())
        + "."
    )
    weak = [bb for bb, v in auc.items() if not np.isfinite(v) or v < 0.6]
    if weak:
        lines.append(
            f"{', '.join(weak)} stayed close to chance (AUROC below 0.6): in this budget "
            f"{'it has' if len(weak) == 1 else 'they have'} not learned the findings, so "
            f"{'its' if len(weak) == 1 else 'their'} maps below explain little."
        )
    if len(result.classes) > 1 and len(result.runs):
        best = auc.index[0]
        per = pd.concat([r.auroc for r in result.runs if r.backbone == best], axis=1).mean(axis=1).drop("mean")
        per = per.dropna().sort_values()
        if len(per):
            lines.append(
                f"For {best}, the hardest class was {per.index[0]} ({fmt(per.iloc[0])}) and the "
                f"easiest {per.index[-1]} ({fmt(per.iloc[-1])})."
            )
    if result.localization_available:
        loc = summary["point loc. acc."].sort_values(ascending=False)
        grids = {r.backbone: f"{r.maps.shape[-2]}×{r.maps.shape[-1]}" for r in result.runs}
        flat = {r.backbone: int(r.localization.loc["weighted", "flat"]) for r in result.runs}
        n_boxes = int(result.runs[0].localization.loc["weighted", "n"]) if result.runs else 0
        lines.append(
            "**Localisation.** Weighted point localisation accuracy over "
            f"{n_boxes} boxed test findings was "
            + ", ".join(
                f"{fmt(v)} for {bb} ({grids[bb]} Grad-CAM grid, {flat[bb]} flat map(s) counted as misses)"
                for bb, v in loc.items()
            )
            + "."
        )
        best_loc = loc.index[0]
        table = pd.concat([r.localization for r in result.runs if r.backbone == best_loc])
        per_class = table.drop(["weighted", "macro"]).groupby(level=0)[["hits", "n"]].sum()
        per_class = per_class[per_class["n"] > 0]
        if len(per_class) > 1:
            rate = per_class["hits"] / per_class["n"]
            worst = rate[rate == rate.min()].index.tolist()
            best = rate.idxmax()

            def _hits(c: str) -> str:
                return f"{int(per_class.loc[c, 'hits'])} of {int(per_class.loc[c, 'n'])} boxes hit"

            lines.append(
                f"For {best_loc}, the class localised worst was "
                + " and ".join(f"{c} ({_hits(c)})" for c in worst)
                + f", the best {best} ({_hits(best)})."
            )
        if any(flat.values()):
            lines.append(
                "A flat map (all zero after the ReLU) has no peak and is scored as a miss; many of them "
                "mean the model gives that class no positive evidence anywhere."
            )
    else:
        lines.append(f"**Localisation** is {result.localization_note}.")
    mass = result.mass_in_mask_table()
    if "uniform map (chance)" in mass and len(result.runs):
        chance = mass["uniform map (chance)"]
        parts = []
        for r in result.runs:
            col = mass[f"{r.backbone} s{r.seed}"]
            known = col.notna() & chance.notna() & (chance > 0)
            ratio = float((col[known] / chance[known]).mean()) if known.any() else float("nan")
            above = int((col[known] > chance[known]).sum())
            parts.append(
                f"{ratio:.2f}× for {r.backbone} (above the uniform map for {above} of {int(known.sum())} classes)"
            )
        lines.append(
            "**Mass in mask.** Averaged over classes, the share of Grad-CAM mass inside the finding's mask, as a "
            "multiple of a uniform map's share (1× is chance: the mask's share of the image), was "
            + ", ".join(parts)
            + "."
            + (
                " These are single runs without an interval: differences of a few thousandths between a class's "
                "share and its chance level are noise."
                if len({r.seed for r in result.runs}) == 1
                else ""
            )
        )
    return "\n\n".join(lines)


def run_baseline(settings: BaselineSettings) -> BaselineResult:
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
    runs = []
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
