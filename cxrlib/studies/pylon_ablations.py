"""Study 09: PYLON's ablations, the GAP instability and two-phase transfer (Preechakul et al. 2022, §5.5, ch. 6).

Part 1 (Tables 6.1 and 6.2) trains PYLON, its ablations (no pyramid, one-layer UP, 3×3 UP, 3×3
head) and PYLON with a global average pooling added to its PA or UP modules on the same SynthCXR task
as notebook 08, several seeds each, and scores every model's native map as there (point localisation,
IoBB, AUROC). The GAP claim is about *stability*: besides the spread of point accuracy over seeds,
:meth:`PylonAblationResult.seed_agreement` measures how much the maps of two seeds of the same model
agree on the boxed test findings.

Part 2 (Table 5.5) is the thesis's transfer from NIH to VinDr-CXR on synthetic data: the source is
SynthCXR with its exact boxes (notebook 08's first-seed PYLON and GMP when they fit, else trained
here); the target is a small, shifted SynthCXR set (other patients, more AP views and left-sided
findings) whose labels and boxes are those of three simulated readers, joined by union as for
VinDr-CXR (:func:`cxrlib.data.synthetic.readers_as_truth`). On the target: GMP and PYLON from
scratch, both fine-tuned from the source (all weights but the class head, which is new), and PYLON
by two-phase transfer (:func:`cxrlib.train.fit_two_phase`: encoder frozen, then everything, same
learning rate). ``target_dataset="vindr"`` with ``target_root`` runs the same on VinDr-CXR.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from ..artifacts import load_artifact
from ..losses import WeightedBCELoss
from ..models import build_model
from ..train import fit, fit_two_phase, transfer_weights
from .common import open_study_dataset, resolve_settings, study_train_config
from .prose import short_ci
from .pylon import (
    NOTEBOOK as SOURCE_NOTEBOOK,
)
from .pylon import (
    VARIANTS,
    PylonResult,
    PylonSettings,
    evaluate_map_model,
    run_pylon,
    truth_box_area,
)
from .runinfo import describe_run

__all__ = [
    "PylonAblationSettings",
    "PylonAblationResult",
    "pylon_ablation_settings",
    "run_pylon_ablations",
    "ABLATIONS",
    "GAP_VARIANTS",
    "TRANSFER_ARMS",
]

NOTEBOOK = "09_pylon_ablations"
#: Table 6.2's ablations (each changes one part of PYLON)
ABLATIONS = ("pylon-no-pyramid", "pylon-1-layer-up", "pylon-3x3-up", "pylon-3x3-head")
#: Table 6.1's GAP variants (PYLON with a global average pooling in its PA or UP modules)
GAP_VARIANTS = ("pylon+gap-pa", "pylon+gap-up")
#: Table 5.5's transfer arms, in the order of the table
TRANSFER_ARMS = ("gmp (scratch)", "pylon (scratch)", "gmp (fine-tuned)", "pylon (fine-tuned)", "pylon (two-phase)")
#: a model's seeds' maps "agree less" than PYLON's when their mean correlation is lower by more than this
AGREEMENT_MARGIN = 0.05
#: the thesis's numbers, quoted beside ours (weighted point accuracy on NIH at 256 px; macro on VinDr)
THESIS = {
    "pylon": 0.62,
    "pylon-no-pyramid": 0.60,
    "pylon-3x3-up": 0.59,
    "pylon-3x3-head": 0.57,
    "gmp (scratch)": 0.31,
    "pylon (scratch)": 0.42,
    "pylon (fine-tuned)": 0.48,
    "pylon (two-phase)": 0.55,
}


@dataclass
class PylonAblationSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 480
    image_size: int = 64
    classes: str | tuple[str, ...] = "nih-boxes"  #: a preset ("nih-boxes", "all"...) or class names
    label_policy: str = "zeros"
    prevalence: float | None = 0.25
    encoder: str = "resnet18"
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    gap_seeds: tuple[int, ...] = (0, 1, 2)  #: seeds of PYLON and its +GAP variants (Table 6.1)
    ablations: tuple[str, ...] = ABLATIONS
    ablation_seeds: tuple[int, ...] = (0,)  #: seeds of each ablation (Table 6.2)
    target_dataset: str = "synth-cxr"
    target_root: str | None = None
    target_classes: str | tuple[str, ...] | None = None  #: None: the source's classes
    target_n: int = 300
    target_ap_fraction: float = 0.7
    target_left_fraction: float = 0.7
    n_readers: int = 3
    reader_sensitivity: float = 0.75
    reader_specificity: float = 0.97
    reader_box_jitter: float = 0.15
    reader_rule: str = "union"
    transfer_epochs: int = 6
    transfer_seeds: tuple[int, ...] = (0, 1)
    source: str = "auto"  #: "auto": notebook 08's weights when they fit, else trained here; "train"
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = [m for m in self.ablations if m not in VARIANTS or not m.startswith("pylon")]
        if unknown:
            raise ValueError(f"parameter 'ablations': unknown {unknown}; use PYLON variants of {list(VARIANTS)}")
        if self.image_size % 32:
            raise ValueError(
                f"parameter 'image_size' must be a multiple of 32 (the encoder's stride), got {self.image_size}"
            )
        for name in ("gap_seeds", "transfer_seeds"):
            if not getattr(self, name):
                raise ValueError(f"parameter '{name}' must name at least one seed")
        if self.source not in ("auto", "train"):
            raise ValueError(f"parameter 'source' must be 'auto' or 'train', got {self.source!r}")
        if self.reader_rule not in ("union", "majority"):
            raise ValueError(f"parameter 'reader_rule' must be 'union' or 'majority', got {self.reader_rule!r}")
        if self.n_readers < 1:
            raise ValueError(f"parameter 'n_readers' must be at least 1, got {self.n_readers}")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min; ``full`` is the thesis's setting (GPU).
PRESETS = {
    "smoke": {
        "n": 300,
        "epochs": 2,
        "gap_seeds": (0, 1),
        "ablations": ("pylon-no-pyramid",),
        "ablation_seeds": (0,),
        "target_n": 200,
        "transfer_epochs": 2,
        "transfer_seeds": (0,),
    },
    "default": {},  # the field defaults below
    "full": {
        "n": 20000,
        "image_size": 256,
        "epochs": 30,
        "batch_size": 64,
        "lr": 1e-4,
        "encoder": "resnet50",
        "gap_seeds": (0, 1, 2, 3, 4),
        "ablation_seeds": (0, 1, 2, 3, 4),
        "target_n": 3000,
        "transfer_epochs": 30,
        "transfer_seeds": (0, 1, 2, 3, 4),
    },
}


def pylon_ablation_settings(profile: str = "default", **overrides) -> PylonAblationSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(PylonAblationSettings, PRESETS, profile, **overrides)


def _pylon_settings(s: PylonAblationSettings, models: tuple[str, ...], seeds: tuple[int, ...], **changes):
    """Notebook 08's settings for part of this study: the shared fields of ``s``, then ``changes``."""
    fields = dict(
        profile=s.profile,
        dataset=s.dataset,
        data_root=s.data_root,
        n=s.n,
        image_size=s.image_size,
        classes=s.classes,
        label_policy=s.label_policy,
        prevalence=s.prevalence,
        models=models,
        encoder=s.encoder,
        epochs=s.epochs,
        batch_size=s.batch_size,
        lr=s.lr,
        weight_decay=s.weight_decay,
        seeds=seeds,
        pretrained=s.pretrained,
        device=s.device,
        data_seed=s.data_seed,
        progress=s.progress,
    )
    return PylonSettings(**{**fields, **changes})


def _merge(first: PylonResult, second: PylonResult | None) -> PylonResult:
    if second is None:
        return first
    trained = {**first.trained, **second.trained}
    return replace(first, runs=first.runs + second.runs, trained=trained)


def open_transfer_target(s: PylonAblationSettings):
    """The transfer's target set: a shifted SynthCXR set with reader labels and boxes (union of
    ``n_readers`` simulated readers), or a real source (``target_dataset``, ``target_root``)."""
    from ..data.synthetic import readers_as_truth

    classes = s.target_classes if s.target_classes is not None else s.classes
    options = dict(
        image_size=s.image_size, classes=classes, label_policy=s.label_policy, seed=s.data_seed + 1, progress=s.progress
    )
    if s.target_dataset != "synth-cxr":
        return open_study_dataset(s.target_dataset, s.target_root, options=options)
    readers = dict(
        n_readers=s.n_readers,
        sensitivity=s.reader_sensitivity,
        specificity=s.reader_specificity,
        box_jitter=s.reader_box_jitter,
    )
    ds = open_study_dataset(
        "synth-cxr",
        None,
        options=options,
        synth_options=dict(
            n=s.target_n,
            prevalence=s.prevalence,
            ap_fraction=s.target_ap_fraction,
            left_fraction=s.target_left_fraction,
            readers=readers,
        ),
    )
    return readers_as_truth(ds, s.reader_rule)


def _saved_source(s: PylonAblationSettings) -> tuple[dict | None, str]:
    """Notebook 08's saved weights when they fit these settings, and why (not)."""
    try:
        saved = load_artifact(SOURCE_NOTEBOOK, "weights")
    except FileNotFoundError:
        return None, f"notebook {SOURCE_NOTEBOOK} has saved no weights"
    meta = saved["meta"]
    want = {"dataset": s.dataset, "encoder": s.encoder, "image_size": s.image_size, "pretrained": s.pretrained}
    differ = [f"{k} {meta.get(k)!r} ≠ {v!r}" for k, v in want.items() if meta.get(k) != v]
    if differ or not {"pylon", "gmp"} <= set(saved["models"]):
        return None, f"notebook {SOURCE_NOTEBOOK}'s weights do not fit ({'; '.join(differ) or 'a model is missing'})"
    return saved, (
        f"notebook {SOURCE_NOTEBOOK}'s first-seed PYLON and GMP ({meta['profile']} profile, {meta['n_train']} "
        f"training images of {meta['dataset']}, seed {meta['seed']})"
    )


def _source_models(s: PylonAblationSettings) -> tuple[dict[str, dict], str, PylonResult | None]:
    """``(state dicts of "pylon" and "gmp", where they come from, the source run when trained here)``."""
    if s.source == "auto":
        saved, why = _saved_source(s)
        if saved is not None:
            return saved["models"], why, None
    else:
        why = "source='train'"
    source = run_pylon(_pylon_settings(s, ("pylon", "gmp"), (0,)))
    return (
        {m: source.trained[m].state_dict() for m in ("pylon", "gmp")},
        f"trained here ({why}): PYLON and GMP, seed 0, {source.run['n_train']} training images of {s.dataset}",
        source,
    )


def run_transfer(s: PylonAblationSettings) -> tuple[PylonResult, str, pd.DataFrame | None]:
    """Table 5.5: every arm of :data:`TRANSFER_ARMS` for every transfer seed, scored on the target's
    test split. Returns the result (arms as its models; ``run["source_models_trained"]`` counts the
    source models trained here), where the source weights come from, and the target's reader
    agreement (None for a real target)."""
    t_start = time.perf_counter()
    states, source_note, source_run = _source_models(s)
    ds = open_transfer_target(s)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    box_area = truth_box_area(test)
    settings = _pylon_settings(
        s, ("pylon", "gmp"), s.transfer_seeds, dataset=s.target_dataset, n=s.target_n, epochs=s.transfer_epochs
    )
    loss = WeightedBCELoss()
    runs, trained = [], {}
    for arm in TRANSFER_ARMS:
        architecture, how = arm.split(" ")
        for seed in s.transfer_seeds:
            torch.manual_seed(seed)
            model = build_model(architecture, len(ds.classes), encoder=s.encoder, pretrained=s.pretrained)
            config = study_train_config(settings, seed)
            t0 = time.perf_counter()
            if how != "(scratch)":
                transfer_weights(model, states[architecture])
            if how == "(two-phase)":
                first, second = fit_two_phase(model, train, val, loss, config)
                history = pd.concat([first.history.assign(phase=1), second.history.assign(phase=2)], ignore_index=True)
            else:
                history = fit(model, train, val, loss, config).history
            runs.append(evaluate_map_model(arm, seed, model, test, history, time.perf_counter() - t0, s.device))
            if seed == s.transfer_seeds[0]:
                trained[arm] = model.cpu().eval()
    result = PylonResult(settings, list(ds.classes), runs, test, box_area, trained=trained)
    result.run = {
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "source_models_trained": 0 if source_run is None else len(source_run.runs),
    }
    agreement = ds.info.get("reader_agreement")
    return result, source_note, agreement


@dataclass
class PylonAblationResult:
    settings: PylonAblationSettings
    ablation: PylonResult  #: PYLON, its ablations and +GAP variants on the source task
    transfer: PylonResult  #: the arms of Table 5.5 on the target task
    source_note: str = ""  #: where the transfer's source weights come from
    reader_agreement: pd.DataFrame | None = None
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def gap_models(self) -> list[str]:
        return [m for m in ("pylon", *GAP_VARIANTS) if m in self.ablation.models]

    def seed_agreement(self, model: str) -> tuple[float, int]:
        """Mean Pearson correlation between the maps of two seeds of ``model`` for the boxed class of
        each boxed test finding, over every pair of seeds; and how many pairs of maps were compared.
        1 means every seed draws the same map; GAP's instability shows as a lower value."""
        runs = self.ablation._runs(model)
        test = self.ablation.test_data
        truth = test.truth_boxes().drop_duplicates(["image", "class"])
        position = {key: i for i, key in enumerate(test.table["image"])}
        pairs = [(position[i], self.ablation.classes.index(c)) for i, c in zip(truth["image"], truth["class"])]
        values = []
        for a in range(len(runs)):
            for b in range(a + 1, len(runs)):
                for i, k in pairs:
                    x, y = runs[a].maps[i, k].ravel(), runs[b].maps[i, k].ravel()
                    if x.std() > 0 and y.std() > 0:
                        values.append(float(np.corrcoef(x, y)[0, 1]))
        return (float(np.mean(values)) if values else float("nan")), len(values)

    def weighted_accuracies(self, model: str) -> list[float]:
        """Weighted point accuracy of each seed of ``model`` (part 1)."""
        return [float(run.localization.loc["weighted", "accuracy"]) for run in self.ablation._runs(model)]

    def spread(self, model: str) -> float | None:
        """Standard deviation (n − 1) of :meth:`weighted_accuracies` over seeds; None with one seed."""
        values = self.weighted_accuracies(model)
        return float(np.std(values, ddof=1)) if len(values) > 1 else None

    def ablation_table(self) -> pd.DataFrame:
        """Tables 6.1 and 6.2 in one: per model, point accuracy (weighted, macro; mean ± 95 % over
        seeds), the spread over seeds (standard deviation of the weighted accuracy), the seeds'
        map agreement, macro AUROC and the thesis's number where it has one."""
        r = self.ablation
        rows = {}
        for m in r.models:
            agreement, _ = self.seed_agreement(m)
            spread = self.spread(m)
            rows[m] = {
                "seeds": len(r._runs(m)),
                "weighted point acc.": short_ci(*r.localization_stats(m, "weighted")),
                "macro point acc.": short_ci(*r.localization_stats(m, "macro")),
                "s.d. of weighted point acc.": "–" if spread is None else f"{spread:.3f}",
                "map agreement": "–" if not np.isfinite(agreement) else f"{agreement:.2f}",
                "macro AUROC": short_ci(*r.auroc_stats(m, "mean")),
                "thesis: weighted point acc. (NIH)": f"{THESIS[m]:.2f}" if m in THESIS else "–",
            }
        return pd.DataFrame(rows).T

    def seeds_table(self) -> pd.DataFrame:
        """One row per trained model of part 1: model, seed, weighted point accuracy, macro AUROC."""
        return pd.DataFrame(
            [
                {
                    "model": run.model,
                    "seed": run.seed,
                    "weighted point acc.": run.localization.loc["weighted", "accuracy"],
                    "macro AUROC": run.auroc["mean"],
                }
                for run in self.ablation.runs
            ]
        )

    def seeds_figure(self):
        """Every trained model of part 1 as a dot: weighted point accuracy and macro AUROC per model."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        table = self.seeds_table()
        order = self.ablation.models
        fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(order) + 1.6), sharey=True)
        for ax, value in zip(axes, ("weighted point acc.", "macro AUROC"), strict=True):
            sns.stripplot(data=table, x=value, y="model", order=order, hue="seed", palette="deep", s=8, ax=ax)
            ax.set_title(f"{value} (one dot per seed)", fontsize=11)
            ax.grid(axis="x", alpha=0.3)
            ax.set_ylabel("")
            ax.legend(title="seed", fontsize=9, frameon=False, loc="lower right")
        fig.tight_layout()
        return fig

    def gap_maps_figure(self, examples: int = 2):
        """The same boxed test findings (the classes with the smallest boxes first) as mapped by each
        seed of PYLON and of its +GAP variants: one row per finding and model, one column per seed. The
        stability of Table 6.1 made visible; None without a boxed finding."""
        from .. import plots
        from .pylon import MAP_LABEL

        r = self.ablation
        test = r.test_data
        truth = test.truth_boxes()
        if truth.empty:
            return None
        first = truth.assign(area=truth["w"] * truth["h"]).sort_values("area").drop_duplicates("class").head(examples)
        position = {key: i for i, key in enumerate(test.table["image"])}
        seeds = sorted({run.seed for m in self.gap_models for run in r._runs(m)})
        rows, labels, class_index, boxes = [], [], [], []
        for key, c in zip(first["image"], first["class"], strict=True):
            for m in self.gap_models:
                rows.append((position[key], m))
                labels.append(f"{c}: {m}")
                class_index.append(r.classes.index(c))
                boxes.append(truth[(truth["image"] == key) & (truth["class"] == c)])
        images = torch.stack([test[i]["image"] for i, _ in rows])
        maps = {}
        for seed in seeds:
            by_model = {run.model: run.maps for m in self.gap_models for run in r._runs(m) if run.seed == seed}
            template = next(iter(by_model.values()))
            maps[f"seed {seed}"] = np.stack(
                [by_model[m][i] if m in by_model else np.zeros_like(template[i]) for i, m in rows]
            )
        return plots.saliency_overlays(
            images, maps, r.classes, class_index, boxes, panel=2.2, value_label=MAP_LABEL, row_labels=labels
        )

    def transfer_table(self) -> pd.DataFrame:
        """Table 5.5: point accuracy on the target (macro first, as the thesis reports VinDr; then
        weighted and per class), mean ± 95 % over transfer seeds, and the thesis's macro number."""
        table = self.transfer.localization_table()
        cols = ["Macro avg.", "Weighted avg.", *self.transfer.classes]
        table = table[cols]
        table.insert(1, "thesis (VinDr, macro)", [f"{THESIS[m]:.2f}" if m in THESIS else "" for m in table.index])
        return table

    def discussion(self) -> str:
        return ablation_discussion(self)


def _mean(result: PylonResult, model: str, key: str = "weighted") -> float:
    return result.localization_stats(model, key)[0]


def ablation_discussion(r: PylonAblationResult) -> str:
    """Paragraphs generated from the numbers of ``r`` (Markdown)."""
    s, a, t = r.settings, r.ablation, r.transfer
    lines = []
    pylon_runs = r.weighted_accuracies("pylon")
    ref, ref_ci = float(np.mean(pylon_runs)), a.localization_stats("pylon", "weighted")
    low, high = min(pylon_runs), max(pylon_runs)
    parts, outside = [], []
    for m in [m for m in a.models if m not in ("pylon", *GAP_VARIANTS)]:
        mean, half = a.localization_stats(m, "weighted")
        seeds = len(a._runs(m))
        if seeds > 1 and np.isfinite(ref_ci[1]):
            within = abs(mean - ref) <= half + ref_ci[1]
            how = "within the two intervals" if within else "beyond the two intervals"
        else:
            within = low <= mean <= high
            how = "inside PYLON's range over its seeds" if within else "outside PYLON's range over its seeds"
        parts.append(f"{m} {mean:.2f} ({mean - ref:+.2f}; {seeds} seed{'s' if seeds > 1 else ''}, {how})")
        if not within:
            outside.append(m)
    if parts:
        lines.append(
            f"**Ablations (Table 6.2).** {s.encoder} from scratch at {s.image_size} px on {s.dataset} "
            f"({a.run.get('n_train', '?')} training images, at most {s.epochs} epochs). Weighted point accuracy of "
            f"PYLON {short_ci(*ref_ci)} over {len(pylon_runs)} seeds (from {low:.2f} to {high:.2f}); "
            + "; ".join(parts)
            + ". The thesis found every ablation 0.02–0.05 below PYLON (0.62) on NIH at 256 px. "
            + (
                "Every ablation here lies within PYLON's own seed-to-seed variation, so this run cannot rank the parts."
                if not outside
                else f"{', '.join(outside)} {'lies' if len(outside) == 1 else 'lie'} beyond PYLON's seed-to-seed "
                "variation; with one seed per ablation that is a hint, not a measured difference."
                if all(len(a._runs(m)) == 1 for m in outside)
                else f"{', '.join(outside)} {'differs' if len(outside) == 1 else 'differ'} from PYLON beyond the "
                "95 % intervals at this scale."
            )
        )
    gap = []
    agree_ref, _ = r.seed_agreement("pylon")
    sd = {m: np.nan if r.spread(m) is None else r.spread(m) for m in r.gap_models}
    for m in GAP_VARIANTS:
        if m in a.models:
            agree, _ = r.seed_agreement(m)
            gap.append(f"{m}: s.d. {sd[m]:.3f}, map agreement {agree:.2f}")
    if gap:
        present = [m for m in GAP_VARIANTS if m in a.models]
        higher_sd = [m for m in present if sd[m] > sd["pylon"]]
        lower_agreement = [m for m in present if r.seed_agreement(m)[0] < agree_ref - AGREEMENT_MARGIN]
        both = [m for m in present if m in higher_sd and m in lower_agreement]
        verdict = (
            f"So {', '.join(both)} {'is' if len(both) == 1 else 'are'} less stable than PYLON on both measures, in "
            "the direction the thesis reports."
            if both
            else "No +GAP variant is less stable than PYLON on both measures here"
            + (
                f" (the maps of {', '.join(lower_agreement)} agree less across seeds than PYLON's, by more than "
                f"{AGREEMENT_MARGIN}, but "
                f"{'its' if len(lower_agreement) == 1 else 'their'} point accuracy varies no more)"
                if lower_agreement
                else ""
            )
            + (
                f" (the point accuracy of {', '.join(higher_sd)} varies more, but "
                f"{'its' if len(higher_sd) == 1 else 'their'} maps agree no less)"
                if higher_sd and not lower_agreement
                else ""
            )
            + ": this run does not reproduce the instability clearly (with this few seeds a standard deviation is "
            "itself very uncertain)."
        )
        lines.append(
            f"**GAP in the decoder (Table 6.1).** The thesis saw higher variance over seeds when a global average "
            f"pooling sits in the decoder. Over {len(a._runs('pylon'))} seeds, PYLON's weighted point accuracy has a "
            f"standard deviation of {sd['pylon']:.3f} and its seeds' maps agree at {agree_ref:.2f} (mean Pearson "
            "correlation on the boxed test findings); " + "; ".join(gap) + ". " + verdict
        )
    macro = {m: t.localization_stats(m, "macro") for m in t.models}
    auc = {m: t.auroc_stats(m, "mean")[0] for m in t.models}
    lines.append(
        f"**Transfer (Table 5.5).** Source weights: {r.source_note}. Target: {t.run.get('n_train', '?')} training and "
        f"{t.run.get('n_test', '?')} test images of {s.target_dataset}"
        + (
            f" with the labels and boxes of {s.n_readers} simulated readers ({s.reader_rule})"
            if s.target_dataset == "synth-cxr"
            else ""
        )
        + ". Macro point accuracy: "
        + "; ".join(f"{m} {short_ci(*macro[m])} (AUROC {auc[m]:.3f})" for m in t.models)
        + ". The thesis on VinDr-CXR: GMP 0.31, PYLON 0.42, fine-tuned 0.48, two-phase 0.55."
    )
    (two, two_h), (fine, _), (scratch, scratch_h) = (
        macro.get(k, (np.nan, np.nan)) for k in ("pylon (two-phase)", "pylon (fine-tuned)", "pylon (scratch)")
    )
    order = two > fine > scratch
    n_seeds = len(s.transfer_seeds)
    if n_seeds > 1 and np.isfinite(two_h) and np.isfinite(scratch_h):
        apart = two - scratch > two_h + scratch_h
        noise = (
            "two-phase's interval and scratch's lie apart, so the gain of two-phase over scratch is measured"
            if apart
            else "two-phase's and scratch's intervals overlap, so even that gap is not established by this run"
        )
    else:
        noise = "one seed per arm gives no interval, so these are single draws"
    lines.append(
        (
            "The thesis's ordering (two-phase > fine-tuned > scratch for PYLON) holds in the means of this run"
            if order
            else "The thesis's ordering (two-phase > fine-tuned > scratch for PYLON) does not hold in the means of "
            "this run"
        )
        + f" ({two:.2f}, {fine:.2f}, {scratch:.2f}); {noise}."
    )
    weak = [m for m in t.models if not np.isfinite(auc[m]) or auc[m] < 0.6]
    if weak:
        lines.append(
            f"{len(weak)} of the {len(t.models)} arms stayed near chance on the target (macro AUROC below 0.6: "
            f"{', '.join(weak)}): with this few target images and epochs they have barely learned the findings, "
            "and the map of a model that does not detect a finding cannot be expected to point at it."
        )
    if r.reader_agreement is not None:
        ag = r.reader_agreement
        lines.append(
            f"The readers' union finds {ag['sensitivity'].mean():.0%} of the true findings, but only "
            f"{ag['precision'].mean():.0%} of what it labels positive is a true finding (mean over classes): "
            "a false-positive box sits somewhere in the chest, so even a perfect map cannot score 1 against it."
        )
    return "\n\n".join(lines)


def run_pylon_ablations(settings: PylonAblationSettings) -> PylonAblationResult:
    t_start = time.perf_counter()
    s = settings
    gap = run_pylon(_pylon_settings(s, ("pylon", *GAP_VARIANTS), s.gap_seeds))
    rest = run_pylon(_pylon_settings(s, tuple(s.ablations), s.ablation_seeds)) if s.ablations else None
    ablation = _merge(gap, rest)
    transfer, source_note, agreement = run_transfer(s)
    result = PylonAblationResult(s, ablation, transfer, source_note, agreement)
    result.run = describe_run(
        s,
        {"train": ablation.run["n_train"], "val": ablation.run["n_val"], "test": ablation.run["n_test"]},
        time.perf_counter() - t_start,
        classes=list(ablation.classes),
        models_trained=len(ablation.runs) + len(transfer.runs) + transfer.run["source_models_trained"],
        transfer_target=(
            f"{s.target_dataset}: {transfer.run['n_train']} / {transfer.run['n_val']} / {transfer.run['n_test']} "
            "images (train / val / test)"
            + (
                f"; {s.target_n} generated, AP share {s.target_ap_fraction}, left-sided share "
                f"{s.target_left_fraction}; {s.n_readers} readers (sensitivity {s.reader_sensitivity}, "
                f"specificity {s.reader_specificity}, box jitter {s.reader_box_jitter}), {s.reader_rule}"
                if s.target_dataset == "synth-cxr"
                else ""
            )
        ),
        transfer_source=source_note,
    )
    result.run.pop("n_readers", None)  # the target's readers: in transfer_target
    result.headline = {
        "run": result.run,
        "dataset": s.dataset,
        "profile": s.profile,
        "source_weights": source_note,
        "models": {
            m: {
                "point_localization_weighted": _mean(ablation, m),
                "point_localization_weighted_ci": ablation.localization_stats(m, "weighted")[1],
                "point_localization_macro": _mean(ablation, m, "macro"),
                "point_localization_weighted_sd": result.spread(m),
                "seed_map_agreement": result.seed_agreement(m)[0],
                "auroc_macro": ablation.auroc_stats(m, "mean")[0],
                "seeds": len(ablation._runs(m)),
            }
            for m in ablation.models
        },
        "transfer": {
            "target": s.target_dataset,
            "n_train": transfer.run["n_train"],
            "arms": {
                m: {
                    "point_localization_macro": _mean(transfer, m, "macro"),
                    "point_localization_macro_ci": transfer.localization_stats(m, "macro")[1],
                    "point_localization_weighted": _mean(transfer, m),
                    "auroc_macro": transfer.auroc_stats(m, "mean")[0],
                }
                for m in transfer.models
            },
        },
    }
    return result
