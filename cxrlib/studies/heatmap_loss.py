"""Study 03: the heatmap loss against dataset bias (the anonymous submission "Integrating feature
attribution methods into the loss function of deep learning classifiers"), three experiments.

The loss is a classification loss plus ``w ·`` the HiResCAM map's mass outside an allowed region
(:class:`~cxrlib.losses.HeatmapMaskLoss`). For each experiment a *group* of models is trained per arm
("none": ``w = 0``, the same loss code otherwise; "heatmap loss": ``w > 0``), model ``i`` with seed
``i`` and learning rate ``lrs[i mod len(lrs)]`` (the source varied learning rates). Each model is
scored on the test set, and the arms are compared as the source does: Shapiro–Wilk per group, then
a two-sided Mann–Whitney U test at level ``alpha`` with its rank-biserial effect size.

* **Experiment 1** (SynthCMR, sex-related size differences): models whose validation accuracy is
  under ``accuracy_threshold`` are discarded and counted; score: share of the labelled class's
  HiResCAM mass inside the heart.
* **Experiment 2** (SynthCMR without size differences, a marker in the corner of male images): the
  share inside the heart, and inside the marker on male test images.
* **Experiment 3** (beyond the source; SynthCXR, CheXpert five): a corner marker agrees with
  ``shortcut_class`` at ``shortcut_rate`` in training and validation; the models are tested on a
  set without the marker and on one where it is *inverted* (drawn on the negatives). Arms: weighted
  BCE with and without the mask loss on the thorax (lung fields + heart). Scores: the shortcut
  class's AUROC on both test sets and the share of its map on the marker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd
import torch

from ..data import CXRDataset, open_dataset
from ..losses import HeatmapMaskLoss, positive_weights
from ..metrics import auroc, heatmap_mass_in_mask
from ..models import build_model
from ..saliency import compute_saliency
from ..stats import GroupComparison, compare_groups
from ..train import TrainConfig, fit, predict, resolve_device
from .common import check_backbone, resolve_settings, study_train_config
from .prose import fmt, p_value
from .runinfo import describe_run

__all__ = [
    "Experiment",
    "HeatmapLossSettings",
    "ModelScore",
    "HeatmapLossResult",
    "heatmap_loss_settings",
    "run_heatmap_loss",
]

ARMS = ("none", "heatmap loss")


class Experiment(str, Enum):
    SIZE = "1"  #: SynthCMR with sex-related size differences
    MARKER = "2"  #: SynthCMR without size differences, a marker on male images
    CXR_SHORTCUT = "3"  #: SynthCXR with a shortcut marker tied to one class in training


@dataclass
class HeatmapLossSettings:
    profile: str = "default"
    experiments: tuple[str, ...] = ("1", "2", "3")
    group_size: int = 8  #: models per arm and experiment
    lrs: tuple[float, ...] = (1e-3, 2e-3, 3e-3)  #: learning rates, cycled over a group's models
    backbone: str = "small-cnn"
    heatmap_weight: float = 1.0  #: w
    heatmap_form: str = "fraction"  #: "fraction" (share of the map outside the mask) or "raw" (the source's sum)
    classification: str = "mse"  #: SynthCMR: "mse" on the softmax (the source's) or "ce"
    accuracy_threshold: float = 0.95  #: SynthCMR models under this validation accuracy are discarded
    alpha: float = 0.05
    cmr_n: int = 800
    image_size: int = 64
    epochs: int = 8
    batch_size: int = 32
    cxr_n: int = 1200
    cxr_test_n: int = 400  #: images of each SynthCXR test set (no marker; inverted marker)
    cxr_epochs: int = 8
    shortcut_class: str = "Consolidation"
    shortcut_rate: float = 0.9  #: training/validation: the marker agrees with the class this often
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        bad = [e for e in self.experiments if e not in [x.value for x in Experiment]]
        if bad or not self.experiments:
            raise ValueError(f"parameter 'experiments': unknown {bad or 'empty list'}; use any of 1, 2, 3")
        if self.group_size < 1:
            raise ValueError(f"parameter 'group_size' must be >= 1, got {self.group_size}")
        if not self.lrs or any(lr <= 0 for lr in self.lrs):
            raise ValueError(f"parameter 'lrs' must be positive learning rates, got {self.lrs!r}")
        check_backbone(self.backbone)
        if self.heatmap_form not in ("fraction", "raw"):
            raise ValueError(f"parameter 'heatmap_form' must be 'fraction' or 'raw', got {self.heatmap_form!r}")
        if self.classification not in ("mse", "ce"):
            raise ValueError(f"parameter 'classification' must be 'mse' or 'ce', got {self.classification!r}")
        if not 0 <= self.accuracy_threshold <= 1 or not 0 < self.shortcut_rate <= 1:
            raise ValueError("parameters 'accuracy_threshold' and 'shortcut_rate' must lie in [0, 1]")
        if self.heatmap_weight <= 0:
            raise ValueError(
                f"parameter 'heatmap_weight' must be > 0 (the 'none' arm is w = 0), got {self.heatmap_weight}"
            )


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min (small CNN, 64 px, 5 models per arm). On
#: these budgets a model trained with the heatmap loss reaches 90-95% validation accuracy rather than
#: the source's 95%, so the CPU profiles discard under 90% (smoke: 80%); ``full`` trains the source's
#: group size of ~30 models per arm at 128 px with its 95% threshold.
PRESETS = {
    "smoke": {
        "group_size": 3,
        "cmr_n": 480,
        "epochs": 8,
        "cxr_n": 600,
        "cxr_test_n": 200,
        "cxr_epochs": 5,
        "accuracy_threshold": 0.8,
    },
    "default": {
        "group_size": 5,
        "cmr_n": 800,
        "epochs": 8,
        "cxr_n": 800,
        "cxr_test_n": 300,
        "cxr_epochs": 5,
        "accuracy_threshold": 0.9,
    },
    "full": {
        "group_size": 30,
        "cmr_n": 3000,
        "image_size": 128,
        "epochs": 15,
        "cxr_n": 6000,
        "cxr_test_n": 1000,
        "cxr_epochs": 15,
        "accuracy_threshold": 0.95,
    },
}


def heatmap_loss_settings(profile: str = "default", **overrides) -> HeatmapLossSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(HeatmapLossSettings, PRESETS, profile, **overrides)


@dataclass
class ModelScore:
    experiment: str
    arm: str
    index: int  #: the model's seed
    lr: float
    kept: bool  #: passed the validation-accuracy threshold (always True in experiment 3)
    scores: dict[str, float]
    history: pd.DataFrame
    seconds: float


@dataclass
class HeatmapLossResult:
    settings: HeatmapLossSettings
    models: list[ModelScore]
    examples: dict[str, dict] = field(default_factory=dict)  #: experiment → images and maps for figures
    datasets: dict[str, CXRDataset] = field(default_factory=dict)  #: experiment → its training dataset
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    def table(self, experiment: str | None = None) -> pd.DataFrame:
        """One row per trained model: experiment, arm, seed, lr, kept and its scores."""
        rows = [
            {"experiment": m.experiment, "arm": m.arm, "seed": m.index, "lr": m.lr, "kept": m.kept, **m.scores}
            for m in self.models
            if experiment is None or m.experiment == experiment
        ]
        return pd.DataFrame(rows)

    def long_table(self, experiment: str) -> pd.DataFrame:
        """The compared scores of ``experiment``'s kept models in long form: arm, score, value."""
        table = self.table(experiment)
        table = table[table["kept"]]
        return table.melt(id_vars=["arm", "seed"], value_vars=list(_SCORES[experiment]), var_name="score")

    def data_figure(self, experiment: str, per_class: int = 2):
        """``per_class`` test images of each class of ``experiment``'s dataset, with their masks and boxes."""
        from .. import plots

        ds = self.datasets.get(experiment)
        if ds is None:
            return None
        test = ds.subset("test")
        labels = test.labels
        positions = [int(i) for k in range(len(test.classes)) for i in np.flatnonzero(labels[:, k] == 1)[:per_class]]
        return plots.image_gallery(test, positions, ncols=4, caption=f"{ds.name}, experiment {experiment}: test images")

    def overlay_figure(self, experiment: str):
        """HiResCAM of both arms' first kept model on the example test images of ``experiment``."""
        from .. import plots

        ex = self.examples.get(experiment)
        if not ex or not ex["maps"]:
            return None
        return plots.saliency_overlays(ex["images"], ex["maps"], ex["classes"], ex["class_index"])

    def comparison(self, experiment: str, score: str) -> GroupComparison | None:
        """Heatmap loss (group a) against none (group b) on ``score``, kept models only; None when an
        arm has no kept model."""
        table = self.table(experiment)
        kept = table[table["kept"]]
        a = kept.loc[kept["arm"] == ARMS[1], score].to_numpy(float)
        b = kept.loc[kept["arm"] == ARMS[0], score].to_numpy(float)
        if not np.isfinite(a).any() or not np.isfinite(b).any():
            return None
        return compare_groups(a, b, self.settings.alpha)

    def tests(self) -> pd.DataFrame:
        """One row per (experiment, score): group sizes, medians, Shapiro–Wilk, Mann–Whitney, effect size."""
        rows = []
        for experiment, scores in _SCORES.items():
            if experiment not in self.settings.experiments:
                continue
            table = self.table(experiment)
            for score in scores:
                c = self.comparison(experiment, score)
                row = {
                    "experiment": experiment,
                    "score": score,
                    "discarded (none / loss)": " / ".join(
                        str(int((~table.loc[table["arm"] == arm, "kept"]).sum())) for arm in ARMS
                    ),
                }
                if c is not None:
                    row.update(
                        {
                            "n (none / loss)": f"{c.n_b} / {c.n_a}",
                            "median none": c.median_b,
                            "median loss": c.median_a,
                            "Shapiro p none": c.shapiro_p_b,
                            "Shapiro p loss": c.shapiro_p_a,
                            "Mann-Whitney U": c.u,
                            "p (two-sided)": c.p,
                            "rank-biserial": c.rank_biserial,
                        }
                    )
                rows.append(row)
        return pd.DataFrame(rows).set_index(["experiment", "score"])

    def discussion(self) -> str:
        return heatmap_loss_discussion(self)


#: the per-model scores compared between arms, per experiment
_SCORES = {
    "1": ("heart overlap",),
    "2": ("heart overlap", "marker overlap (male)"),
    "3": ("shortcut AUROC (no marker)", "shortcut AUROC (inverted)", "map on marker"),
}


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
        experiment: str, n_classes: int, make_loss: Callable, train, val, epochs, score: Callable, keep: Callable
    ) -> dict[str, torch.nn.Module]:
        first: dict[str, torch.nn.Module] = {}
        for arm in ARMS:
            for index in range(s.group_size):
                torch.manual_seed(index)
                model = build_model(s.backbone, n_classes)
                weight = s.heatmap_weight if arm == ARMS[1] else 0.0
                t0 = time.perf_counter()
                result = fit(model, train, val, make_loss(model, weight), config(index, epochs))
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

            def cmr_loss(model, weight):
                return HeatmapMaskLoss(
                    model, weight, s.classification, s.heatmap_form, "hirescam", mask_key="heart_mask"
                )

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

            def cxr_loss(model, weight, pw=pw):
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
    )
    result.headline = _headline(result)
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
    return {"images": images, "maps": maps, "classes": test.classes, "class_index": [int(labels[p]) for p in positions]}


def _cxr_examples(inverted: CXRDataset, models: dict, k: int, device) -> dict:
    """Four test images carrying the (inverted) marker, with both arms' maps of the shortcut class."""
    positions = [int(i) for i in np.flatnonzero(inverted.table["shortcut_marker"].to_numpy())[:4]]
    images = torch.stack([inverted[p]["image"] for p in positions])
    maps = {}
    for arm, model in models.items():
        _, m = compute_saliency(model.to(device).eval(), images.to(device), "hirescam")
        maps[arm] = m.cpu().numpy()
    return {"images": images, "maps": maps, "classes": inverted.classes, "class_index": [k] * len(positions)}


def _sentence(c: GroupComparison | None, score: str) -> str:
    score = score[:1].upper() + score[1:]
    if c is None:
        return f"{score}: an arm has no kept model, so there is no test."
    if c.significant:
        direction = "higher" if c.median_a > c.median_b else "lower"
        return (
            f"{score} was {direction} with the loss (median {fmt(c.median_a)} vs {fmt(c.median_b)}; "
            f"Mann–Whitney p = {p_value(c.p)}, rank-biserial {c.rank_biserial:+.2f})."
        )
    return (
        f"{score} could not be told apart between the arms (median {fmt(c.median_a)} with the loss vs "
        f"{fmt(c.median_b)} without; p = {p_value(c.p)}, rank-biserial {c.rank_biserial:+.2f})."
    )


def _normality(comparisons: list[GroupComparison]) -> str:
    rejected = [c for c in comparisons if not c.normal]
    if rejected:
        return (
            f"Shapiro–Wilk rejected normality for at least one group in {len(rejected)} of {len(comparisons)} "
            "comparisons, which is why the rank test is used."
        )
    return (
        "Shapiro–Wilk rejected normality for no group (with groups this small it has little power); the rank "
        "test is used throughout, as in the source."
    )


def heatmap_loss_discussion(result: HeatmapLossResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s = result.settings
    lines = []
    titles = {
        "1": "**Experiment 1** (SynthCMR with sex-related size differences).",
        "2": "**Experiment 2** (no size differences, a marker in the corner of every male image).",
        "3": f"**Experiment 3** (SynthCXR; a corner marker agreeing with {s.shortcut_class} in "
        f"{s.shortcut_rate:.0%} of training images).",
    }
    for experiment in s.experiments:
        table = result.table(experiment)
        parts = [titles[experiment]]
        if experiment in ("1", "2"):
            dropped = {arm: int((~table.loc[table["arm"] == arm, "kept"]).sum()) for arm in ARMS}
            parts.append(
                f"Of {s.group_size} models per arm, {dropped['none']} without and {dropped['heatmap loss']} "
                f"with the loss stayed under {s.accuracy_threshold:.0%} validation accuracy and were discarded."
            )
        comparisons = {score: result.comparison(experiment, score) for score in _SCORES[experiment]}
        known = [c for c in comparisons.values() if c is not None]
        if known:
            parts.append(f"Kept models compared: {known[0].n_b} without the loss, {known[0].n_a} with it.")
        parts += [_sentence(c, score) for score, c in comparisons.items()]
        if experiment in ("1", "2"):
            kept = table[table["kept"]].groupby("arm")["flat maps"].mean()
            if set(ARMS) <= set(kept.index):
                parts.append(
                    f"On average {fmt(kept['none'], 2)} of a model's test maps were flat (no positive HiResCAM "
                    f"anywhere; scored 0 inside the heart) without the loss and {fmt(kept['heatmap loss'], 2)} with "
                    "it. A flat map costs the fraction form of the loss its maximum but gives it no gradient (the "
                    "ReLU is zero everywhere), so training cannot pull it back towards the heart."
                )
        chance = result.examples.get(experiment, {}).get("chance", {})
        if chance:
            parts.append(
                "For scale, a uniform map would score "
                + " and ".join(f"{fmt(v)} on {k}" for k, v in chance.items() if np.isfinite(v))
                + " (the region's share of the image)."
            )
        if known:
            parts.append(_normality(known))
        if experiment == "3":
            parts.append(_shortcut_verdict(result, comparisons))
        lines.append(" ".join(parts))
    return "\n\n".join(lines)


def _shortcut_verdict(result: HeatmapLossResult, comparisons: dict) -> str:
    s = result.settings
    kept = result.table("3")
    kept = kept[kept["kept"]]
    means = kept.groupby("arm")[["shortcut AUROC (no marker)", "shortcut AUROC (inverted)", "map on marker"]].mean()
    if not set(ARMS) <= set(means.index):
        return ""
    none, loss = means.loc["none"], means.loc["heatmap loss"]
    text = (
        f"On average {s.shortcut_class} AUROC went from {fmt(none.iloc[0])} on the marker-free test set to "
        f"{fmt(none.iloc[1])} on the inverted one without the loss, and from {fmt(loss.iloc[0])} to "
        f"{fmt(loss.iloc[1])} with it; the share of the class's map on the marker was {fmt(none.iloc[2])} "
        f"without and {fmt(loss.iloc[2])} with the loss. "
    )
    inverted, on_marker = comparisons.get("shortcut AUROC (inverted)"), comparisons.get("map on marker")
    uses_less = inverted is not None and inverted.significant and inverted.median_a > inverted.median_b
    moved = on_marker is not None and on_marker.significant and on_marker.median_a < on_marker.median_b
    if uses_less:
        return text + "The loss made the models measurably less dependent on the shortcut."
    if moved:
        return text + (
            "The loss moved the map off the marker, but the models still follow the marker when it is inverted: "
            "the map no longer shows the shortcut, yet the decision still uses it. One way this can happen: the "
            "features at a position inside the thorax see the corner through their receptive field, so the "
            "evidence is reported where the loss allows it."
        )
    return text + "These groups show no evidence that the loss changed how much the models rely on the marker."


def _headline(result: HeatmapLossResult) -> dict:
    s = result.settings
    experiments = {}
    for experiment in s.experiments:
        table = result.table(experiment)
        entry = {
            "models_per_arm": s.group_size,
            "discarded": {arm: int((~table.loc[table["arm"] == arm, "kept"]).sum()) for arm in ARMS},
        }
        for score in _SCORES[experiment]:
            c = result.comparison(experiment, score)
            key = score.replace(" ", "_").replace("(", "").replace(")", "")
            entry[key] = (
                None
                if c is None
                else {
                    "median_none": c.median_b,
                    "median_loss": c.median_a,
                    "mann_whitney_p": c.p,
                    "rank_biserial": c.rank_biserial,
                    "shapiro_p_none": c.shapiro_p_b,
                    "shapiro_p_loss": c.shapiro_p_a,
                }
            )
        chance = result.examples.get(experiment, {}).get("chance")
        if chance:
            entry["uniform_map"] = {k.replace(" ", "_").replace("(", "").replace(")", ""): v for k, v in chance.items()}
        experiments[f"exp{experiment}"] = entry
    return {"run": result.run, "profile": s.profile, "heatmap_form": s.heatmap_form, "experiments": experiments}
