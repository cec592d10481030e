"""Study 04: losses against class imbalance (Sharma and P. 2023, §3.4, 4.6; Lin et al. 2017; Yuan et al. 2021).

Three losses on the same data, backbone and seeds (Table 4.2 of the source):

* **CE**: weighted BCE (``pos_weight = n_negative / n_positive`` per class), the baseline of notebook 01.
* **Focal**: the multi-label sigmoid focal loss (``gamma``, optional ``alpha``), in place of the BCE.
* **AUC-M**: LibAUC's recipe (:func:`cxrlib.auc.auc_finetune`): weighted-BCE pre-training, a fresh
  head, then AUC-margin fine-tuning with PESG. The pre-training stage *is* the CE arm of the same seed
  (same initialisation, data order and configuration, hence the same weights on a CPU), so the arm
  fine-tunes a copy of the trained CE model and ``auc_finetune``'s own pre-training gets 0 epochs. Its
  difference to CE is therefore a paired one, seed by seed.

Each model is scored on the held-out test split: per-class and mean AUROC (logits) and average
precision; its Grad-CAM maps are compared with the CE model's of the same seed (cosine similarity on
the positive test findings, beside the similarity of two CE seeds as the reference) and scored by point
localisation on the truth boxes where the dataset has them.

**Prevalence sweep.** For one class (``sweep_class``) the *training* prevalence is set to each of
``sweep_prevalences`` by subsampling a fixed-size training set from a pool (positives and negatives
drawn in one random order, so the subsets are nested), every loss is trained on it and scored on the
untouched test split (AUROC and AUPRC of that class; the test prevalence is the AUPRC of chance). On
SynthCXR the pool is a second generated set in which that class has the prevalence that makes the
fixed training size largest; on a real source the pool is its own training split.

The test and validation logits of every loss and seed are saved as the artifact ``logits`` of this
notebook (:func:`cxrlib.artifacts.save_artifact`), with the settings that produced them, for the
calibration study (05) to load.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd
import torch

from ..artifacts import save_artifact
from ..auc import auc_finetune, class_imratio
from ..data.synthetic.config import DEFAULT_PREVALENCE
from ..losses import FocalLoss, WeightedBCELoss, positive_weights
from ..metrics import per_class_auroc, per_class_average_precision, point_localization_accuracy
from ..models import Backbone, build_model
from ..train import TrainConfig, TrainResult, fit, predict
from .common import (
    backbone_output_stride,
    boxed_overlay_figure,
    mean_ci,
    open_chest_dataset,
    resolve_settings,
    seed_mean_and_half_width,
    study_train_config,
)
from .prose import fmt, join, signed, with_ci
from .runinfo import describe_run

__all__ = [
    "NOTEBOOK",
    "Loss",
    "LOSS_LABELS",
    "TRAINING_FIELDS",
    "ImbalanceLossSettings",
    "LossRun",
    "SweepRun",
    "ImbalanceLossResult",
    "imbalance_loss_settings",
    "run_imbalance_losses",
    "training_config",
    "train_losses",
    "evaluate_loss_run",
    "prevalence_subsets",
    "map_cosine",
]

#: the notebook whose results and artifacts this study writes
NOTEBOOK = "04_imbalance_losses"


class Loss(str, Enum):
    WBCE = "wbce"  #: weighted BCE (the source's cross-entropy)
    FOCAL = "focal"  #: sigmoid focal loss
    AUCM = "aucm"  #: AUC-margin loss with PESG, fine-tuning the CE model with a fresh head (LibAUC's recipe)


#: how tables and figures name each loss
LOSS_LABELS = {Loss.WBCE.value: "CE", Loss.FOCAL.value: "Focal", Loss.AUCM.value: "AUC-M"}


@dataclass
class ImbalanceLossSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 1500
    image_size: int = 64
    classes: str | tuple[str, ...] = "chexpert5"
    label_policy: str = "sharma2023"
    uncertain_rate: float = 0.1
    prevalence: float | None = None  #: None: SynthCXR's CheXpert-like per-class defaults
    backbone: str = "densenet121"
    output_stride: int | None = 8
    losses: tuple[str, ...] = ("wbce", "focal", "aucm")
    focal_gamma: float = 2.0
    focal_alpha: float | None = None  #: weight of the positives in the focal loss (None: unweighted)
    auc_margin: float = 1.0  #: AUC-M margin m
    auc_lr: float = 0.1  #: PESG learning rate of the fine-tuning (LibAUC's 0.1), divided by 10 after each epoch
    auc_epochs: int = 2  #: epochs of AUC-M fine-tuning after the CE stage (LibAUC's CheXpert recipe: 2)
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seeds: tuple[int, ...] = (0, 1, 2)
    sweep_class: str | None = "Pleural Effusion"  #: None: no prevalence sweep
    sweep_prevalences: tuple[float, ...] = (0.01, 0.05, 0.2, 0.5)
    sweep_seeds: tuple[int, ...] = (0,)
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        known = [b.value for b in Backbone]
        if self.backbone not in known:
            raise ValueError(f"parameter 'backbone': unknown {self.backbone!r}; use one of {known}")
        check_losses(self.losses)
        if self.output_stride not in (None, 8, 16, 32):
            raise ValueError(f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}")
        if self.focal_gamma < 0:
            raise ValueError(f"parameter 'focal_gamma' must be >= 0, got {self.focal_gamma}")
        if self.focal_alpha is not None and not 0 <= self.focal_alpha <= 1:
            raise ValueError(f"parameter 'focal_alpha' must lie in [0, 1] or be None, got {self.focal_alpha}")
        if self.auc_margin <= 0 or self.auc_lr <= 0 or self.auc_epochs < 1:
            raise ValueError("parameters 'auc_margin' and 'auc_lr' must be > 0 and 'auc_epochs' >= 1")
        if not self.seeds:
            raise ValueError("parameter 'seeds': give at least one seed")
        if self.sweep_class is not None:
            bad = [p for p in self.sweep_prevalences if not 0 < p < 1]
            if bad or not self.sweep_prevalences:
                raise ValueError(
                    f"parameter 'sweep_prevalences' needs values strictly between 0 and 1, got {self.sweep_prevalences}"
                )
            if not self.sweep_seeds:
                raise ValueError("parameter 'sweep_seeds': give at least one seed (or sweep_class=None: no sweep)")


def check_losses(losses) -> None:
    names = [v.value for v in Loss]
    bad = [v for v in losses if v not in names]
    if bad or not losses:
        raise ValueError(f"parameter 'losses': unknown {bad or 'empty list'}; use any of {names}")


#: On a 2-core CPU one DenseNet-121 epoch at 64 px and output stride 8 takes ~30 s, so three losses
#: over several seeds plus a prevalence sweep do not fit 4 minutes: the CPU profiles train the small CNN
#: (output stride 8: 8×8 Grad-CAM maps) over several seeds, which gives intervals and (``default``) the
#: three CE members the calibration study (05) ensembles (with fewer seeds 05 trains the missing ones);
#: ``full`` trains the source's DenseNet-121 at 224 px with its Adam 1e-4, batch 64 and 5 epochs, over
#: five seeds and a three-seed sweep.
PRESETS = {
    "smoke": {"n": 500, "epochs": 3, "backbone": "small-cnn", "seeds": (0, 1), "sweep_prevalences": (0.02, 0.5)},
    "default": {"n": 1500, "epochs": 5, "backbone": "small-cnn", "seeds": (0, 1, 2)},
    "full": {
        "n": 20000,
        "image_size": 224,
        "epochs": 5,
        "batch_size": 64,
        "lr": 1e-4,
        "seeds": (0, 1, 2, 3, 4),
        "sweep_seeds": (0, 1, 2),
        "backbone": "densenet121",
        "output_stride": 16,
    },
}


def imbalance_loss_settings(profile: str = "default", **overrides) -> ImbalanceLossSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(ImbalanceLossSettings, PRESETS, profile, **overrides)


#: the settings that determine the trained models and so the saved logits (what 05 compares before loading)
TRAINING_FIELDS = (
    "dataset",
    "data_root",
    "n",
    "image_size",
    "classes",
    "label_policy",
    "uncertain_rate",
    "prevalence",
    "backbone",
    "output_stride",
    "focal_gamma",
    "focal_alpha",
    "auc_margin",
    "auc_lr",
    "auc_epochs",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "pretrained",
    "data_seed",
)


def training_config(settings) -> dict:
    """The :data:`TRAINING_FIELDS` of any settings object that has them, tuples as lists (comparable
    with what :func:`~cxrlib.artifacts.load_artifact` gives back)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(settings, k)) for k in TRAINING_FIELDS)}


@dataclass
class LossRun:
    loss: str  #: "wbce", "focal" or "aucm"
    label: str  #: "CE", "Focal", "AUC-M"
    seed: int
    history: pd.DataFrame  #: the loss's own epochs (AUC-M: the fine-tuning stage)
    auroc: pd.Series  #: test, per class + "mean"
    average_precision: pd.Series  #: test, per class + "mean"
    train_seconds: float  #: the whole training (AUC-M: the CE stage + fine-tuning)
    val_logits: np.ndarray  #: (N_val, K)
    val_labels: np.ndarray
    test_logits: np.ndarray  #: (N_test, K)
    test_labels: np.ndarray
    maps: np.ndarray | None = None  #: (N_test, K, h, w) Grad-CAM
    localization: float = float("nan")  #: weighted point localisation accuracy on the test boxes


@dataclass
class SweepRun:
    loss: str
    label: str
    seed: int
    prevalence: float  #: the requested training prevalence of the swept class
    train_prevalence: float  #: realised
    n_train: int
    n_positive: int
    auroc: float  #: test AUROC of the swept class
    average_precision: float  #: test AUPRC of the swept class
    mean_auroc_others: float  #: test mean AUROC of the other classes


@dataclass
class ImbalanceLossResult:
    settings: ImbalanceLossSettings
    classes: list[str]
    runs: list[LossRun]
    sweep: list[SweepRun] = field(default_factory=list)
    sweep_info: dict = field(default_factory=dict)  #: class, training size, pool, test prevalence
    train_prevalence: pd.Series | None = None  #: per class, share of positives among known training labels
    test_data: object = None
    artifact: str | None = None  #: where the logits were saved
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(r.label for r in self.runs))

    def _of(self, label: str) -> list[LossRun]:
        return [r for r in self.runs if r.label == label]

    def _ce(self) -> dict[int, LossRun]:
        return {r.seed: r for r in self.runs if r.loss == Loss.WBCE.value}

    def paired_difference(self, label: str, metric: str = "mean") -> tuple[float, float]:
        """Mean and 95% half-width over seeds of ``label``'s test AUROC (``metric``: a class or "mean")
        minus CE's of the same seed; (nan, nan) without CE runs."""
        ce = self._ce()
        diffs = [r.auroc[metric] - ce[r.seed].auroc[metric] for r in self._of(label) if r.seed in ce]
        return mean_ci(diffs) if diffs else (float("nan"), float("nan"))

    def map_similarity_to_ce(self, label: str) -> tuple[float, float]:
        """Mean (± 95% half-width over seeds) cosine similarity between ``label``'s Grad-CAM maps and the
        CE model's of the same seed, on the positive test findings; for CE itself, between CE models
        of different seeds (the reference: how alike two runs of one loss are)."""
        ce = self._ce()
        if label == LOSS_LABELS[Loss.WBCE.value]:
            seeds = sorted(s for s in ce if ce[s].maps is not None)
            values = [
                map_cosine(ce[a].maps, ce[b].maps, ce[a].test_labels)
                for i, a in enumerate(seeds)
                for b in seeds[i + 1 :]
            ]
        else:
            values = [
                map_cosine(r.maps, ce[r.seed].maps, r.test_labels)
                for r in self._of(label)
                if r.seed in ce and r.maps is not None and ce[r.seed].maps is not None
            ]
        return mean_ci(values) if values else (float("nan"), float("nan"))

    def summary(self) -> pd.DataFrame:
        """One row per loss: means over seeds with 95% Student-t half-widths, the paired difference to
        CE, Grad-CAM similarity and localisation, training time."""
        rows = []
        for label in self.labels:
            runs = self._of(label)
            row: dict = {"loss": label, "seeds": len(runs)}
            row["mean AUROC"], row["mean AUROC ±95%"] = mean_ci([r.auroc["mean"] for r in runs])
            row["Δ AUROC vs CE (paired)"], row["Δ ±95%"] = self.paired_difference(label)
            row["mean AUPRC"] = float(np.mean([r.average_precision["mean"] for r in runs]))
            row["Grad-CAM cosine to CE"] = self.map_similarity_to_ce(label)[0]
            row["point loc. acc."] = mean_ci([r.localization for r in runs])[0]
            row["training s"] = float(np.mean([r.train_seconds for r in runs]))
            rows.append(row)
        return pd.DataFrame(rows).set_index("loss")

    def per_class_auroc(self) -> pd.DataFrame:
        """Table 4.2: test AUROC per class and mean (columns) per loss (rows), mean over seeds."""
        return seed_mean_and_half_width({label: [r.auroc for r in self._of(label)] for label in self.labels})[0]

    def per_class_auroc_ci(self) -> pd.DataFrame:
        """The 95% half-widths of :meth:`per_class_auroc` over seeds (NaN with one seed)."""
        return seed_mean_and_half_width({label: [r.auroc for r in self._of(label)] for label in self.labels})[1]

    def table_4_2(self) -> pd.DataFrame:
        """Table 4.2 as text cells "mean ± half-width" (the half-width left out with one seed)."""
        mean, half = self.per_class_auroc(), self.per_class_auroc_ci()
        return pd.DataFrame(
            {c: [with_ci(mean.loc[i, c], half.loc[i, c]) for i in mean.index] for c in mean.columns}, index=mean.index
        )

    def sweep_table(self) -> pd.DataFrame:
        """The prevalence sweep: one row per training prevalence and loss, means over the sweep seeds."""
        if not self.sweep:
            return pd.DataFrame()
        frame = pd.DataFrame([vars(r) for r in self.sweep])
        table = frame.groupby(["prevalence", "label"], sort=False).agg(
            train_prevalence=("train_prevalence", "mean"),
            positives=("n_positive", "mean"),
            AUROC=("auroc", "mean"),
            AUPRC=("average_precision", "mean"),
            other_classes_AUROC=("mean_auroc_others", "mean"),
            seeds=("seed", "count"),
        )
        return table.sort_index(level=0, sort_remaining=False)

    def sweep_figure(self):
        """Test AUROC and AUPRC of the swept class against its training prevalence (log axis), one line
        per loss; chance levels dotted. None without a sweep."""
        import matplotlib.pyplot as plt

        if not self.sweep:
            return None
        frame = pd.DataFrame([vars(r) for r in self.sweep])
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        chance = {"auroc": 0.5, "average_precision": self.sweep_info.get("test_prevalence", float("nan"))}
        for ax, (metric, name) in zip(axes, (("auroc", "AUROC"), ("average_precision", "AUPRC")), strict=True):
            for label, part in frame.groupby("label", sort=False):
                mean = part.groupby("prevalence")[metric].mean()
                line = ax.plot(mean.index, mean.values, "-o", ms=4, label=label)[0]
                if part["seed"].nunique() > 1:
                    ax.scatter(part["prevalence"], part[metric], s=10, alpha=0.4, color=line.get_color())
            if np.isfinite(chance[metric]):
                ax.axhline(chance[metric], color="gray", lw=0.8, ls=":", label="chance")
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(sorted(frame["prevalence"].unique()))
            ax.set_xticklabels([f"{p:.0%}" if p >= 0.01 else f"{p:.1%}" for p in sorted(frame["prevalence"].unique())])
            ax.set(xlabel=f"training prevalence of {self.sweep_info.get('class', '?')}", ylabel=f"test {name}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="best")
        fig.suptitle(
            f"{self.sweep_info.get('class', '?')}: {self.sweep_info.get('n_train', '?')} training images at every "
            f"prevalence; test prevalence {self.sweep_info.get('test_prevalence', float('nan')):.2f}",
            fontsize=11,
        )
        fig.tight_layout()
        return fig

    def overlay_figure(self, per_class: int = 1):
        """Grad-CAM overlays of every loss (first seed) on the same boxed test images (Fig 4.6)."""
        first = self.settings.seeds[0]
        maps = {r.label: r.maps for r in self.runs if r.seed == first and r.maps is not None}
        return boxed_overlay_figure(self.test_data, maps, per_class) if maps else None

    def histories(self) -> dict[str, pd.DataFrame]:
        return {f"{r.label} seed {r.seed}": r.history for r in self.runs if len(r.history)}

    def discussion(self) -> str:
        return imbalance_loss_discussion(self)


def map_cosine(a: np.ndarray, b: np.ndarray, labels: np.ndarray) -> float:
    """Mean cosine similarity between two models' maps ``(N, K, h, w)`` over the (image, class) pairs
    whose label is positive and where neither map is flat (all zero); NaN when there is none."""
    pos = np.asarray(labels) == 1
    if not pos.any():
        return float("nan")
    x = np.asarray(a, np.float64)[pos].reshape(int(pos.sum()), -1)
    y = np.asarray(b, np.float64)[pos].reshape(int(pos.sum()), -1)
    nx, ny = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
    keep = (nx > 0) & (ny > 0)
    if not keep.any():
        return float("nan")
    return float(np.mean((x[keep] * y[keep]).sum(1) / (nx[keep] * ny[keep])))


def prevalence_subsets(labels: np.ndarray, prevalences, seed: int = 0) -> tuple[dict[float, np.ndarray], int]:
    """Positions of training subsets of one fixed size in which a class has each of ``prevalences``.

    ``labels (N,)`` of the class in {0, 1, NaN}; unknown rows are never chosen. Positives and negatives
    are each put in one random order (``seed``) and each subset takes the first ``k`` positives and
    the first ``size − k`` negatives (``k = max(1, round(p · size))``), so the subsets are nested. The
    size is the largest that every prevalence allows. Returns ``({p: sorted positions}, size)``;
    raises ``ValueError`` when the labels have no positive or no negative.
    """
    y = np.asarray(labels, np.float64)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if not len(pos) or not len(neg):
        raise ValueError(f"a prevalence sweep needs positives and negatives; got {len(pos)} and {len(neg)}")
    ps = [float(p) for p in prevalences]
    if not ps or any(not 0 < p < 1 for p in ps):
        raise ValueError(f"prevalences must lie strictly between 0 and 1, got {ps}")
    rng = np.random.default_rng(seed)
    pos, neg = rng.permutation(pos), rng.permutation(neg)
    size = int(min(len(pos) / max(ps), len(neg) / (1 - min(ps))))
    subsets = {}
    for p in ps:
        k = min(len(pos), max(1, round(p * size)))
        subsets[p] = np.sort(np.concatenate([pos[:k], neg[: size - k]]))
    return subsets, size


def _config(s, seed: int, epochs: int, **changes) -> TrainConfig:
    return study_train_config(s, seed, epochs=epochs, **changes)


def new_model(s, num_classes: int, seed: int) -> torch.nn.Module:
    """The study's network for ``seed`` (initialised under ``torch.manual_seed(seed)``)."""
    torch.manual_seed(seed)
    return build_model(
        s.backbone,
        num_classes,
        pretrained=s.pretrained,
        output_stride=backbone_output_stride(s.backbone, s.output_stride),
    )


def train_losses(s, train, val, seed: int, losses, classes) -> dict[str, tuple[torch.nn.Module, TrainResult, float]]:
    """Train every loss of ``losses`` for one seed on ``train`` (model selection on ``val``).

    Returns ``{loss: (model, its own stage's TrainResult, training seconds)}``. AUC-M fine-tunes a copy of
    the CE model (trained here even when CE itself is not asked for); its seconds include the CE stage.
    ``s`` is any settings object with the :data:`TRAINING_FIELDS` and ``device``, ``progress``.
    """
    check_losses(losses)
    out: dict[str, tuple[torch.nn.Module, TrainResult, float]] = {}
    k = len(classes)
    if Loss.WBCE.value in losses or Loss.AUCM.value in losses:
        model = new_model(s, k, seed)
        result = fit(model, train, val, WeightedBCELoss(positive_weights(train.labels)), _config(s, seed, s.epochs))
        out[Loss.WBCE.value] = (model, result, result.seconds)
    if Loss.FOCAL.value in losses:
        model = new_model(s, k, seed)
        result = fit(model, train, val, FocalLoss(s.focal_gamma, s.focal_alpha), _config(s, seed, s.epochs))
        out[Loss.FOCAL.value] = (model, result, result.seconds)
    if Loss.AUCM.value in losses:
        ce_model, _, ce_seconds = out[Loss.WBCE.value]
        model = copy.deepcopy(ce_model)
        # stage one of LibAUC's recipe is the CE arm above (same seed and configuration): 0 epochs here
        _, second = auc_finetune(
            model,
            train,
            val,
            _config(s, seed, 0),
            _config(s, seed, s.auc_epochs, stop_after_lr_reductions=None),
            margin=s.auc_margin,
            lr=s.auc_lr,
            weight_decay=s.weight_decay,
            classes=classes,
        )
        out[Loss.AUCM.value] = (model, second, ce_seconds + second.seconds)
    if Loss.WBCE.value not in losses:
        out.pop(Loss.WBCE.value, None)
    return out


def evaluate_loss_run(
    model, loss: str, seed: int, result: TrainResult, seconds: float, val, test, classes, device, maps: bool = True
) -> LossRun:
    """Predict ``val`` and ``test`` (with Grad-CAM on ``test`` when ``maps``) and score the test split."""
    pv = predict(model, val, device=device)
    pt = predict(model, test, device=device, saliency="gradcam" if maps else None)
    localization = float("nan")
    boxes = test.truth_boxes()
    if maps and not boxes.empty:
        table = point_localization_accuracy(pt.maps, boxes, list(test.table["image"]), classes, test.image_size)
        localization = float(table.loc["weighted", "accuracy"])
    return LossRun(
        loss=loss,
        label=LOSS_LABELS[loss],
        seed=seed,
        history=result.history,
        auroc=per_class_auroc(pt.logits, pt.labels, classes),
        average_precision=per_class_average_precision(pt.logits, pt.labels, classes),
        train_seconds=seconds,
        val_logits=pv.logits,
        val_labels=pv.labels,
        test_logits=pt.logits,
        test_labels=pt.labels,
        maps=pt.maps,
        localization=localization,
    )


def _order(losses) -> list[str]:
    return [v.value for v in Loss if v.value in losses]


def _open(s, prevalence):
    return open_chest_dataset(s, prevalence=prevalence)


def _sweep(s: ImbalanceLossSettings, ds, classes: list[str]) -> tuple[list[SweepRun], dict]:
    """Train every loss at every training prevalence of ``sweep_class`` (see the module notes)."""
    c = s.sweep_class
    k = classes.index(c)
    lo, hi = min(s.sweep_prevalences), max(s.sweep_prevalences)
    if s.dataset == "synth-cxr":
        pool_prevalence = hi / (hi + 1 - lo)  # the pool prevalence that makes the fixed training size largest
        base = {name: DEFAULT_PREVALENCE[name] if s.prevalence is None else s.prevalence for name in classes}
        pool = _open(s, {**base, c: pool_prevalence})
        where = f"a second SynthCXR set with {c} at prevalence {pool_prevalence:.2f}"
    else:
        pool, where = ds, f"the training split of {s.dataset}"
    train, val, test = pool.subset("train"), pool.subset("val"), pool.subset("test")
    subsets, size = prevalence_subsets(train.labels[:, k], s.sweep_prevalences, s.data_seed)
    test_y = test.labels[:, k]
    info = {
        "class": c,
        "n_train": size,
        "pool": where,
        "test_prevalence": float(np.nanmean(test_y)),
        "test_positives": int(np.nansum(test_y == 1)),
        "n_test": int(np.sum(~np.isnan(test_y))),
    }
    others = [j for j in range(len(classes)) if j != k]
    runs = []
    for p in sorted(subsets):
        part = train.take(subsets[p])
        y = part.labels[:, k]
        if Loss.AUCM.value in s.losses:
            class_imratio(part.labels, classes)  # every class needs positives before anything trains
        for seed in s.sweep_seeds:
            for loss, (model, _, _) in train_losses(s, part, val, seed, s.losses, classes).items():
                pred = predict(model, test, device=s.device)
                auroc = per_class_auroc(pred.logits, pred.labels, classes)
                ap = per_class_average_precision(pred.logits, pred.labels, classes)
                runs.append(
                    SweepRun(
                        loss=loss,
                        label=LOSS_LABELS[loss],
                        seed=seed,
                        prevalence=p,
                        train_prevalence=float(np.nanmean(y)),
                        n_train=len(part),
                        n_positive=int(np.nansum(y == 1)),
                        auroc=float(auroc[c]),
                        average_precision=float(ap[c]),
                        mean_auroc_others=float(np.nanmean(auroc.iloc[others])) if others else float("nan"),
                    )
                )
    order = {v: i for i, v in enumerate(_order(s.losses))}
    runs.sort(key=lambda r: (r.prevalence, order[r.loss], r.seed))
    return runs, info


def run_imbalance_losses(settings: ImbalanceLossSettings) -> ImbalanceLossResult:
    """Train every loss for every seed, score it, run the prevalence sweep and save the logits."""
    t_start = time.perf_counter()
    s = settings
    ds = _open(s, s.prevalence)
    classes = list(ds.classes)
    if s.sweep_class is not None and s.sweep_class not in classes:
        raise ValueError(f"parameter 'sweep_class': {s.sweep_class!r} is not one of this run's classes {classes}")
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    if Loss.AUCM.value in s.losses:
        class_imratio(train.labels, classes)  # a class without positives fails here, before any training
    runs: list[LossRun] = []
    for seed in s.seeds:
        for loss, (model, result, seconds) in train_losses(s, train, val, seed, s.losses, classes).items():
            runs.append(evaluate_loss_run(model, loss, seed, result, seconds, val, test, classes, s.device))
    order = {v: i for i, v in enumerate(_order(s.losses))}
    runs.sort(key=lambda r: (order[r.loss], r.seed))
    sweep, sweep_info = _sweep(s, ds, classes) if s.sweep_class is not None else ([], {})
    artifact = save_artifact(
        NOTEBOOK,
        "logits",
        {
            "config": training_config(s),
            "profile": s.profile,
            "classes": classes,
            "runs": [
                {
                    "loss": r.loss,
                    "seed": r.seed,
                    "val_logits": r.val_logits,
                    "val_labels": r.val_labels,
                    "test_logits": r.test_logits,
                    "test_labels": r.test_labels,
                    "train_seconds": r.train_seconds,
                }
                for r in runs
            ],
        },
    )
    known = ~np.isnan(train.labels)
    prevalence = pd.Series((train.labels == 1).sum(0) / known.sum(0).clip(1), index=classes)
    result = ImbalanceLossResult(
        s, classes, runs, sweep, sweep_info, prevalence, test_data=test, artifact=str(artifact)
    )
    first_maps = next((r.maps for r in runs if r.maps is not None), None)
    result.run = describe_run(
        s,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        classes=classes,
        grad_cam_grid=f"{first_maps.shape[-2]}×{first_maps.shape[-1]}" if first_maps is not None else "none",
        **({"sweep_train_images": sweep_info["n_train"]} if sweep_info else {}),
    )
    result.headline = _headline(result)
    return result


def _headline(result: ImbalanceLossResult) -> dict:
    s, summary = result.settings, result.summary()
    mean, half = result.per_class_auroc(), result.per_class_auroc_ci()
    losses = {}
    for label in summary.index:
        runs = result._of(label)
        row = summary.loc[label]
        losses[runs[0].loss] = {
            "label": label,
            "mean_auroc": float(row["mean AUROC"]),
            "mean_auroc_ci95": float(row["mean AUROC ±95%"]),
            "per_class_auroc": {c: float(mean.loc[label, c]) for c in result.classes},
            "per_class_auroc_ci95": {c: float(half.loc[label, c]) for c in result.classes},
            "auroc_minus_ce_paired": float(row["Δ AUROC vs CE (paired)"]),
            "auroc_minus_ce_paired_ci95": float(row["Δ ±95%"]),
            "mean_average_precision": float(row["mean AUPRC"]),
            "grad_cam_cosine_to_ce": float(row["Grad-CAM cosine to CE"]),
            "point_localization_accuracy": float(row["point loc. acc."]),
            "train_seconds": float(row["training s"]),
            "seeds": len(runs),
        }
    sweep = None
    if result.sweep:
        table = result.sweep_table().reset_index()
        sweep = dict(result.sweep_info)
        sweep["points"] = [
            {
                "prevalence": float(r["prevalence"]),
                "loss": next(x.loss for x in result.sweep if x.label == r["label"]),
                "train_prevalence": float(r["train_prevalence"]),
                "auroc": float(r["AUROC"]),
                "average_precision": float(r["AUPRC"]),
            }
            for _, r in table.iterrows()
        ]
    return {
        "run": result.run,
        "dataset": s.dataset,
        "profile": s.profile,
        "backbone": s.backbone,
        "train_prevalence": {c: float(v) for c, v in result.train_prevalence.items()},
        "losses": losses,
        "sweep": sweep,
        "artifact": f"{NOTEBOOK}/logits",
    }


def imbalance_loss_discussion(result: ImbalanceLossResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown), so the text cannot contradict the tables."""
    s, summary, run = result.settings, result.summary(), result.run
    n_seeds = len(s.seeds)
    lines = []
    ce = LOSS_LABELS[Loss.WBCE.value]
    auc = {label: (summary.loc[label, "mean AUROC"], summary.loc[label, "mean AUROC ±95%"]) for label in summary.index}
    lines.append(
        f"**Discrimination (Table 4.2).** {s.backbone} on {s.dataset} at {s.image_size} px "
        f"({run.get('n_train', '?')} training images, at most {s.epochs} epochs, {n_seeds} seed(s)): mean test AUROC "
        + ", ".join(f"{with_ci(*v)} for {label}" for label, v in auc.items())
        + (" (mean ± 95% half-width over seeds)." if n_seeds > 1 else " (one seed: no interval).")
    )
    if ce in auc:
        parts = []
        for label in auc:
            if label == ce:
                continue
            d, h = result.paired_difference(label)
            if not np.isfinite(d):
                continue
            if np.isfinite(h) and abs(d) <= h:
                verdict = "cannot be told apart from CE at this number of seeds"
            elif np.isfinite(h):
                verdict = "ranked the test images better than CE" if d > 0 else "ranked the test images worse than CE"
            else:
                verdict = "was above CE in this single seed" if d > 0 else "was below CE in this single seed"
            parts.append(f"{label} {verdict} (paired difference {signed(d, h)})")
        if parts:
            lines.append(
                "Seed by seed (same initialisation and data order; AUC-M starts from that seed's CE model): "
                + "; ".join(parts)
                + ". The source found focal loss marginally above CE (mean validation AUROC 0.8867 vs 0.8841) "
                "and DeepAUC clearly below it (0.8291)" + _agreement(result) + "."
            )
    per = result.per_class_auroc().drop(columns="mean")
    if len(per.columns) > 1 and result.train_prevalence is not None:
        rare = result.train_prevalence.idxmin()
        spread = {label: per.loc[label].max() - per.loc[label].min() for label in per.index}
        lines.append(
            "**Per class.** "
            + "; ".join(
                f"{'For' if i == 0 else 'for'} {label} the weakest class was {per.loc[label].idxmin()} "
                f"({fmt(per.loc[label].min())}) and the strongest {per.loc[label].idxmax()} "
                f"({fmt(per.loc[label].max())})"
                for i, label in enumerate(per.index)
            )
            + ". The gap between the best and the worst class was "
            + ", ".join(f"{fmt(v)} for {label}" for label, v in spread.items())
            + f". The rarest class in training was {rare} ({result.train_prevalence[rare]:.0%} positives), with "
            + ", ".join(f"{fmt(per.loc[label, rare])} for {label}" for label in per.index)
            + "."
        )
    sim = {label: summary.loc[label, "Grad-CAM cosine to CE"] for label in summary.index}
    if ce in sim and any(np.isfinite(v) for v in sim.values()):
        others = {label: v for label, v in sim.items() if label != ce and np.isfinite(v)}
        ref = sim[ce]
        text = (
            "**Saliency (Fig. 4.6).** Cosine similarity of the Grad-CAM maps to the same seed's CE maps on the "
            "positive test findings: "
            + ", ".join(f"{fmt(v)} for {label}" for label, v in others.items())
            + (f"; two CE models of different seeds agree to {fmt(ref)}." if np.isfinite(ref) else ".")
        )
        if np.isfinite(ref) and others:
            alike = [label for label, v in others.items() if round(v, 3) >= round(ref, 3)]
            unlike = [label for label in others if label not in alike]
            if alike:
                text += f" {join(alike)} maps are at least as close to CE's as another CE seed's are"
                text += "; " if unlike else "."
            if unlike:
                text += (" " if not alike else "") + f"{join(unlike)} maps differ from CE's more than CE seeds do."
        text += " The source saw CE and focal maps as almost identical and DeepAUC's as different, by eye on one image."
        loc = summary["point loc. acc."]
        if loc.notna().any():
            text += (
                " Weighted point localisation: " + ", ".join(f"{fmt(v)} for {label}" for label, v in loc.items()) + "."
            )
        lines.append(text)
    if result.sweep:
        table = result.sweep_table()
        info = result.sweep_info
        ps = sorted(table.index.get_level_values(0).unique())
        lo, hi = ps[0], ps[-1]
        at = {p: table.loc[p]["AUROC"] for p in ps}
        best_lo = at[lo].idxmax()
        seeds = len(s.sweep_seeds)
        text = (
            f"**Prevalence sweep.** {info['class']} was trained at {', '.join(f'{p:.0%}' for p in ps)} prevalence on "
            f"{info['n_train']} training images each (drawn from {info['pool']}; "
            f"{int(table.loc[lo]['positives'].iloc[0])} positives at {lo:.0%}) and tested on "
            f"{info['n_test']} test images with {info['test_positives']} positives. Its test AUROC went from "
            + ", ".join(
                f"{fmt(at[hi][label])} at {hi:.0%} to {fmt(at[lo][label])} at {lo:.0%} for {label}"
                for label in at[lo].index
            )
            + "; "
        )
        if at[lo].max() < 0.6:
            text += f"at {lo:.0%} no loss learned the class: every AUROC was below 0.6 (0.5 is chance). "
        else:
            text += f"at {lo:.0%} the highest was {best_lo}'s. "
        learned = [p for p in ps if at[p].max() >= 0.6]
        if learned and len(at[lo]) > 1:
            winners: dict[str, list[str]] = {}
            for p in learned:
                winners.setdefault(at[p].idxmax(), []).append(f"{p:.0%}")
            text += (
                "Where the class was learned, the highest test AUROC belonged to "
                + "; ".join(f"{label} at {join(where)}" for label, where in winners.items())
                + ". "
            )
        ap_lo = table.loc[lo]["AUPRC"]
        text += (
            f"AUPRC at {lo:.0%}: "
            + ", ".join(f"{fmt(v)} for {label}" for label, v in ap_lo.items())
            + f" (chance: the test prevalence, {info['test_prevalence']:.2f}). "
        )
        text += "Each point is one model" if seeds == 1 else f"Each point is a mean over {seeds} seeds"
        if n_seeds > 1:
            half = result.per_class_auroc_ci()[info["class"]]
            text += (
                f"; in the main table the 95% half-width of {info['class']}'s AUROC over {n_seeds} seeds was "
                f"{fmt(half.min())} to {fmt(half.max())} across losses, so differences between the losses smaller "
                "than that are within seed-to-seed noise."
            )
        else:
            text += "."
        lines.append(text)
    return "\n\n".join(lines)


def _agreement(result: ImbalanceLossResult) -> str:
    """How the sign of our paired differences compares with the source's, as a clause."""
    focal, _ = result.paired_difference(LOSS_LABELS[Loss.FOCAL.value])
    aucm, _ = result.paired_difference(LOSS_LABELS[Loss.AUCM.value])
    parts = []
    if np.isfinite(aucm):
        parts.append(
            "like the source, AUC-M ended below CE on average here"
            if aucm < 0
            else "unlike the source, AUC-M did not end below CE on average here"
        )
    if np.isfinite(focal):
        parts.append("focal was above CE on average, as there" if focal > 0 else "focal was not above CE on average")
    return ("; " + " and ".join(parts)) if parts else ""
