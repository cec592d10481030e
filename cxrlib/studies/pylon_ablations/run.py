"""Study 09: the run: training and evaluation."""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd
import torch

from ...artifacts import load_artifact
from ...data.augment import AugmentedDataset
from ...losses import WeightedBCELoss
from ...models import build_model, decoder_parameters
from ...train import fit, fit_two_phase, transfer_weights
from ..common import check_imagenet_weights, open_study_dataset, study_train_config
from ..prose import short_ci
from ..pylon import (
    NOTEBOOK as SOURCE_NOTEBOOK,
)
from ..pylon import (
    VARIANT_LABELS,
    PylonResult,
    evaluate_map_model,
    run_pylon,
    truth_box_area,
)
from ..runinfo import describe_run
from .result import PylonAblationResult
from .settings import BASE, GAP_VARIANTS, PylonAblationSettings, source_pylon_settings

__all__ = [
    "saved_source",
    "NOTEBOOK",
    "TRANSFER_ARMS",
    "transfer_arms",
    "open_transfer_target",
    "run_transfer",
    "run_pylon_ablations",
]


NOTEBOOK = "09_pylon_ablations"


#: Table 5.5's transfer arms, in the order of the table
TRANSFER_ARMS = ("gmp (scratch)", "pylon (scratch)", "gmp (fine-tuned)", "pylon (fine-tuned)", "pylon (two-phase)")


#: the thesis's split of VinDr-CXR's 15,000 training images (by image: no patient ids), §5.5
VINDR_SPLIT = (("train", 0.7), ("val", 0.1), ("test", 0.2))


def transfer_arms(s: PylonAblationSettings) -> tuple[str, ...]:
    """The arms this run trains: :data:`TRANSFER_ARMS` with ``transfer_baselines`` (Li 2018, FPN; without
    transfer only, as in the thesis) after the GMP baseline's scratch arm, the thesis's column order."""
    extra = tuple(f"{m} (scratch)" for m in ("li2018", "fpn") if m in s.transfer_baselines)
    return (TRANSFER_ARMS[0], *extra, *TRANSFER_ARMS[1:])


def _merge(first: PylonResult, second: PylonResult | None) -> PylonResult:
    if second is None:
        return first
    trained = {**first.trained, **second.trained}
    return replace(first, runs=first.runs + second.runs, trained=trained)


def open_transfer_target(s: PylonAblationSettings):
    """The transfer's target set: a shifted SynthCXR set with reader labels and boxes (union of
    ``n_readers`` simulated readers), or a real source (``target_dataset``, ``target_root``)."""
    from ...data.synthetic import readers_as_truth

    classes = s.target_classes if s.target_classes is not None else s.classes
    options = dict(
        image_size=s.image_size, classes=classes, label_policy=s.label_policy, seed=s.data_seed + 1, progress=s.progress
    )
    if s.target_dataset != "synth-cxr":
        split = {"fractions": dict(VINDR_SPLIT)} if s.target_dataset == "vindr" else None
        return open_study_dataset(s.target_dataset, s.target_root, options=options, source_options=split)
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


def saved_source(s: PylonAblationSettings) -> tuple[dict | None, str]:
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
        saved, why = saved_source(s)
        if saved is not None:
            return saved["models"], why, None
    else:
        why = "source='train'"
    source = run_pylon(source_pylon_settings(s, ("pylon", "gmp"), (0,)))
    return (
        {m: source.trained[m].state_dict() for m in ("pylon", "gmp")},
        f"trained here ({why}): PYLON and GMP, seed 0, {source.run['n_train']} training images of {s.dataset}",
        source,
    )


def run_transfer(s: PylonAblationSettings) -> tuple[PylonResult, str, pd.DataFrame | None]:
    """Table 5.5: every arm of :func:`transfer_arms` for every transfer seed, scored on the target's
    test split. Returns the result (arms as its models; ``run["source_models_trained"]`` counts the
    source models trained here), where the source weights come from, and the target's reader
    agreement (None for a real target)."""
    t_start = time.perf_counter()
    states, source_note, source_run = _source_models(s)
    ds = open_transfer_target(s)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    box_area = truth_box_area(test)
    settings = source_pylon_settings(
        s, ("pylon", "gmp"), s.transfer_seeds, dataset=s.target_dataset, n=s.target_n, epochs=s.transfer_epochs
    )
    loss = WeightedBCELoss()
    runs, trained = [], {}
    if s.augment:  # the thesis's augmentation, on the training images only
        train = AugmentedDataset(train)
    for arm in transfer_arms(s):
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


def _mean(result: PylonResult, model: str, key: str = "weighted") -> float:
    return result.localization_stats(model, key)[0]


def run_pylon_ablations(settings: PylonAblationSettings) -> PylonAblationResult:
    check_imagenet_weights(settings, ["pylon"])
    t_start = time.perf_counter()
    s = settings
    gap = run_pylon(source_pylon_settings(s, (BASE, *GAP_VARIANTS, *s.gap_baselines), s.gap_seeds))
    rest = run_pylon(source_pylon_settings(s, tuple(s.ablations), s.ablation_seeds)) if s.ablations else None
    ablation = _merge(gap, rest)
    transfer, source_note, agreement = run_transfer(s)
    result = PylonAblationResult(s, ablation, transfer, source_note, agreement)
    result.run = describe_run(
        s,
        {"train": ablation.run["n_train"], "val": ablation.run["n_val"], "test": ablation.run["n_test"]},
        time.perf_counter() - t_start,
        names={"ablations": VARIANT_LABELS, "models": VARIANT_LABELS},
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
                "point_localization_weighted_ci95": ablation.localization_stats(m, "weighted")[1],
                "point_localization_weighted_text": short_ci(*ablation.localization_stats(m, "weighted")),
                "decoder_parameters": decoder_parameters(ablation.trained[m]) if m in ablation.trained else None,
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
                    "point_localization_macro_ci95": transfer.localization_stats(m, "macro")[1],
                    "point_localization_weighted": _mean(transfer, m),
                    "auroc_macro": transfer.auroc_stats(m, "mean")[0],
                }
                for m in transfer.models
            },
        },
    }
    return result
