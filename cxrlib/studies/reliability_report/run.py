"""Study 10: the run: find (or train) notebook 01's model, then its reliability report on the study's test
split and on the real NIH images shipped with cxrlib."""

from __future__ import annotations

import pickle
import time

import torch

from ...artifacts import load_artifact, results_dir
from ...data import CXRDataset
from ...data.classes import NIH_CLASSES, SYNTH_NAMES_OF_NIH
from ...models import build_model
from ...report import ReliabilityReport, reliability_report
from ..baseline import NOTEBOOK as SOURCE_NOTEBOOK
from ..baseline import model_settings, run_baseline
from ..common import backbone_output_stride, check_imagenet_weights, open_chest_dataset
from ..runinfo import describe_run
from .result import NOTEBOOK, ReliabilityResult
from .settings import ModelSource, ReliabilitySettings, training_settings

__all__ = ["load_saved_weights", "fitting_model", "saved_model", "nih_names", "open_nih_report_set", "run_reliability"]

#: the name of the linear last layer of every cxrlib classifier (the last-layer Laplace's)
LAST_LAYER = "classifier"


def load_saved_weights() -> tuple[dict | None, str]:
    """Notebook 01's artifact ``weights`` (``{"models": ..., "meta": ...}``), or None and why it cannot be had."""
    try:
        saved = load_artifact(SOURCE_NOTEBOOK, "weights")
        saved["meta"], saved["models"]  # an older layout raises KeyError (a damaged file: TypeError) here
    except FileNotFoundError:
        return None, f"notebook {SOURCE_NOTEBOOK} has saved no weights in {results_dir()}"
    except (pickle.UnpicklingError, RuntimeError, KeyError, TypeError) as err:  # an older or damaged file
        return None, f"notebook {SOURCE_NOTEBOOK}'s saved weights cannot be read ({type(err).__name__}: {err})"
    return saved, ""


def fitting_model(s: ReliabilitySettings, saved: dict, classes: list[str] | None = None) -> tuple[dict | None, str]:
    """The state dict of ``s.backbone`` in ``saved`` (:func:`load_saved_weights`) when it was trained with
    these settings (and, given ``classes``, on those classes in that order), and why (not)."""
    meta = saved["meta"]
    ours, theirs = model_settings(s), meta.get("settings", {})
    differ = [f"{k} {theirs.get(k)!r} there, {v!r} here" for k, v in ours.items() if theirs.get(k) != v]
    if int(meta.get("seed", -1)) != s.seeds[0]:
        differ.append(f"seed {meta.get('seed')!r} there, {s.seeds[0]!r} here")
    if classes is not None and list(meta.get("classes", [])) != list(classes):
        differ.append(f"classes {meta.get('classes')} there, {list(classes)} here")
    if differ:
        return None, f"notebook {SOURCE_NOTEBOOK}'s weights come from other settings ({'; '.join(differ[:4])})"
    if s.backbone not in saved["models"]:
        return None, f"notebook {SOURCE_NOTEBOOK} trained no {s.backbone} (it has {sorted(saved['models'])})"
    return saved["models"][s.backbone], (
        f"notebook {SOURCE_NOTEBOOK}'s saved weights ({meta.get('profile', '?')} profile, seed {meta['seed']}, "
        f"{meta.get('n_train', '?')} training images)"
    )


def saved_model(s: ReliabilitySettings, classes: list[str] | None = None) -> tuple[dict | None, str]:
    """Notebook 01's saved state dict of ``s.backbone`` when it was trained with these settings (and, given
    ``classes``, on those classes in that order), and why (not): ``(state_dict or None, a sentence)``."""
    saved, why = load_saved_weights()
    return (None, why) if saved is None else fitting_model(s, saved, classes)


def _model(s: ReliabilitySettings, n_classes: int, state: dict | None, why: str) -> tuple[torch.nn.Module, str]:
    """The model reported on, in eval mode on the CPU, and where its weights come from: ``state`` (01's saved
    weights) when given, else trained here with 01's code (``why``: why not loaded)."""
    model = build_model(
        s.backbone, n_classes, pretrained=False, output_stride=backbone_output_stride(s.backbone, s.output_stride)
    )
    if state is not None:
        model.load_state_dict(state)
        return model.eval(), f"loaded from {why}"
    trained = run_baseline(training_settings(s))
    model.load_state_dict({k: v.cpu() for k, v in trained.trained[s.backbone].state_dict().items()})
    return model.eval(), (
        f"trained here with notebook {SOURCE_NOTEBOOK}'s code and these settings ({why}; seed {s.seeds[0]}, "
        f"{trained.run['n_train']} training images)"
    )


def nih_names(classes: list[str]) -> tuple[list[str] | None, str]:
    """NIH ChestX-ray14's names of ``classes`` (SynthCXR's spelling: "Pleural Effusion" is NIH's "Effusion"),
    or None and the classes NIH does not label."""
    to_nih = {synth: nih for nih, synth in SYNTH_NAMES_OF_NIH.items() if nih in NIH_CLASSES}
    names = [to_nih.get(c, c) for c in classes]
    missing = [c for c, n in zip(classes, names) if n not in NIH_CLASSES]
    if missing:
        return None, f"NIH ChestX-ray14 has no label for {missing}"
    renamed = [f"{c} is NIH's {n}" for c, n in zip(classes, names) if c != n]
    return names, "; ".join(renamed)


def open_nih_report_set(s: ReliabilitySettings, classes: list[str]) -> tuple[CXRDataset | None, str]:
    """The 21 real NIH images shipped with cxrlib, every split at once (the model never saw them), with the
    model's classes in NIH's spelling; or None and why they are not reported on."""
    from ...data import open_nih_sample

    if not s.nih_sample:
        return None, "nih_sample=False"
    if s.dataset == "nih":
        return None, "the model was trained on NIH ChestX-ray14, which the shipped images may belong to"
    names, note = nih_names(classes)
    if names is None:
        return None, note
    return open_nih_sample(s.image_size, classes=names), note


def _report(model, test, val, s: ReliabilitySettings, title: str) -> ReliabilityReport:
    return reliability_report(
        model,
        test,
        val,
        last_layer=LAST_LAYER,
        title=title,
        n_bootstrap=s.n_bootstrap,
        costs=tuple(s.costs),
        max_map_images=s.max_map_images,
        device=s.device,
        seed=s.data_seed,
        progress=s.progress,
    )


def run_reliability(settings: ReliabilitySettings) -> ReliabilityResult:
    """Notebook 01's ``settings.backbone`` (loaded, or trained here), its report on the test split (val for
    the recalibrations) and, where its classes exist in NIH, on the shipped NIH images."""
    s = settings
    t_start = time.perf_counter()
    saved, why = load_saved_weights() if s.source == ModelSource.AUTO else (None, "source='train'")
    state, why = (None, why) if saved is None else fitting_model(s, saved)
    if state is None:  # it will be trained here: stop before any data if its ImageNet weights are missing
        check_imagenet_weights(s, (s.backbone,))
    ds = open_chest_dataset(training_settings(s))
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    classes = list(ds.classes)
    if state is not None:  # the saved outputs must be these classes, in this order (no second read of the file)
        state, why = fitting_model(s, saved, classes)
        if state is None:
            check_imagenet_weights(s, (s.backbone,))
    model, source = _model(s, len(classes), state, why)
    reports = {
        "test split": _report(model, test, val, s, f"{s.backbone} on the {ds.name} test split"),
    }
    nih, nih_note = open_nih_report_set(s, classes)
    if nih is not None:
        reports["NIH sample"] = _report(model, nih, None, s, f"{s.backbone} on the 21 NIH ChestX-ray14 images")
    result = ReliabilityResult(s, classes, reports, source, nih_note=nih_note, dataset_name=ds.name)
    result.save_reports(results_dir() / "reports" / NOTEBOOK)
    result.run = describe_run(
        s,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        classes=classes,
        model_source=source,
        nih_images=len(nih) if nih is not None else 0,
    )
    result.headline = result.make_headline()
    return result
