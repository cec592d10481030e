"""Study 10 (the reliability report of notebook 01's model): settings checks, 01's saved weights (used only
when they were trained with these settings), NIH's class names, and one tiny end-to-end run read back."""

import json
import math

import pytest

from cxrlib.book import record_results
from cxrlib.studies import baseline as baseline_study
from cxrlib.studies import reliability_report as study

#: a tiny shape of 01 and 10 alike: a small CNN on 160 SynthCXR images, one epoch
TINY = {"n": 160, "image_size": 64, "epochs": 1, "output_stride": None, "progress": False}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seeds": (0, 1)}, "one seed"),
        ({"source": "imagenet"}, "source"),
        ({"backbone": "resnet5"}, "backbone"),
        ({"n_bootstrap": 5}, "n_bootstrap"),
        ({"costs": (0.6,)}, "costs"),
        ({"max_map_images": 0}, "max_map_images"),
    ],
)
def test_bad_settings_name_the_parameter(change, message):
    with pytest.raises(ValueError, match=message):
        study.reliability_settings("smoke", **change)


@pytest.mark.parametrize("profile", ["smoke", "default", "full"])
def test_each_profile_reports_on_a_model_that_01_trains_on_the_same_profile(profile):
    """So that in a book build notebook 10 loads 01's weights instead of training its own."""
    ours, theirs = study.reliability_settings(profile), baseline_study.baseline_settings(profile)
    assert baseline_study.model_settings(ours) == baseline_study.model_settings(theirs)
    assert ours.backbone in theirs.backbones and ours.seeds[0] == theirs.seeds[0]
    assert study.training_settings(ours).backbones == (ours.backbone,)


def test_nih_names_spell_the_classes_as_nih_does():
    names, note = study.nih_names(["Atelectasis", "Pleural Effusion"])
    assert names == ["Atelectasis", "Effusion"] and "Pleural Effusion is NIH's Effusion" in note
    names, note = study.nih_names(["Atelectasis", "Fracture"])
    assert names is None and "Fracture" in note


@pytest.fixture(scope="module")
def saved_01(results_dir, cache_dir):
    """01's tiny run with the small CNN, its weights saved as the book saves them."""
    settings = baseline_study.baseline_settings("smoke", backbones=("small-cnn",), seeds=(0,), **TINY)
    result = baseline_study.run_baseline(settings)
    result.save_weights()
    return result


def test_saved_weights_are_used_only_when_they_fit(saved_01):
    fits = study.reliability_settings("smoke", backbone="small-cnn", **TINY)
    state, why = study.saved_model(fits)
    assert state is not None and "01_baseline's saved weights" in why
    state, why = study.saved_model(study.reliability_settings("smoke", backbone="small-cnn", **{**TINY, "n": 200}))
    assert state is None and "n 160 there, 200 here" in why
    state, why = study.saved_model(study.reliability_settings("smoke", backbone="densenet121", **TINY))
    assert state is None and "trained no densenet121" in why
    state, why = study.saved_model(fits, classes=list(reversed(saved_01.classes)))  # outputs in another order
    assert state is None and "classes" in why


def test_a_damaged_weights_file_means_training_here_not_a_crash(tmp_path, monkeypatch):
    from cxrlib.artifacts import artifact_path

    monkeypatch.setenv("CXRLIB_RESULTS_DIR", str(tmp_path))
    path = artifact_path(baseline_study.NOTEBOOK, "weights")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    state, why = study.saved_model(study.reliability_settings("smoke", backbone="small-cnn", **TINY))
    assert state is None and "cannot be read" in why


@pytest.fixture(scope="module")
def tiny(saved_01):
    settings = study.reliability_settings("smoke", backbone="small-cnn", n_bootstrap=50, **TINY)
    return study.run_reliability(settings)


def test_tiny_run_loads_01s_model_and_reports_on_both_sets(tiny, saved_01):
    assert tiny.model_source.startswith("loaded from notebook 01_baseline")
    assert set(tiny.reports) == {"test split", "NIH sample"}
    # the loaded model is 01's: the same test AUROC to float precision
    assert tiny.numbers()["test split"]["mean_auroc"] == pytest.approx(
        saved_01.runs[0].auroc.drop("mean").dropna().mean(), abs=1e-6
    )
    nih = tiny.reports["NIH sample"]
    assert nih.settings["test images"] == 21 and "Effusion" in nih.settings["classes"]
    absent = tiny.absent_sections()
    # SynthCXR has every kind of truth; only a subgroup of 20 images needs more than this tiny test split
    assert {s for r, s in absent.index if r.endswith("test split")} <= {"Subgroups"}
    assert "Shortcut probe" in " ".join(s for _, s in absent.index) and "**NIH" in tiny.absent_markdown()


def test_tiny_run_summary_headline_and_files(tiny, results_dir):
    summary = tiny.summary()
    assert list(summary.columns) == ["synth-cxr test split", "NIH ChestX-ray14 sample (real)"]
    assert not summary.isin(["nan", "NaN", "None"]).any().any()
    assert summary.loc["test images (patients)", "NIH ChestX-ray14 sample (real)"] == "21 (21)"
    path = record_results(study.NOTEBOOK, tiny.headline)
    saved = json.loads(path.read_text())
    assert saved["reports"]["test split"]["images"] == tiny.run["n_test"]
    for files in tiny.saved.values():
        html = open(files["html"], encoding="utf-8").read()
        assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
        assert json.loads(open(files["json"]).read())["sections"]["discrimination"]["available"]


def test_tiny_run_discussion_follows_the_numbers(tiny):
    text = study.reliability_discussion(tiny)
    test = tiny.numbers()["test split"]
    assert f"{test['mean_auroc']:.3f}" in text and f"{test['ece_model']:.3f}" in text
    assert "**Shortcut probe.**" in text and "**Not computed:**" in text
    nih = tiny.numbers()["NIH sample"]
    if nih["mean_auroc_low"] <= 0.5 <= nih["mean_auroc_high"]:
        assert "cannot be told apart from a coin" in text
    if not math.isnan(test["aurc_laplace"]):
        assert "Laplace predictive" in text


def test_source_train_trains_here_even_when_01s_weights_fit(saved_01, monkeypatch):
    calls = []

    def counting(settings):  # 01's training, already run by the fixture with these very settings
        calls.append(settings.backbones)
        assert baseline_study.model_settings(settings) == baseline_study.model_settings(saved_01.settings)
        return saved_01

    monkeypatch.setattr(study.run, "run_baseline", counting)
    settings = study.reliability_settings(
        "smoke", backbone="small-cnn", source="train", n_bootstrap=20, nih_sample=False, **TINY
    )
    result = study.run_reliability(settings)
    assert calls == [("small-cnn",)] and result.model_source.startswith("trained here")
    assert set(result.reports) == {"test split"} and "nih_sample=False" in result.nih_note
    assert "**The NIH sample** was not reported on" in study.reliability_discussion(result)


def test_a_report_whose_sections_are_all_absent_prints_no_nan():
    from cxrlib.report import SECTION_KEYS, ReliabilityReport
    from cxrlib.report.section import absent

    empty = ReliabilityReport(
        "empty",
        {"test images": 4, "test patients": 4, "validation images": "none"},
        [absent(key, key.title(), "the data do not allow it") for key in SECTION_KEYS],
    )
    settings = study.reliability_settings("smoke", nih_sample=False)
    result = study.ReliabilityResult(settings, ["A"], {"test split": empty}, "given", nih_note="nih_sample=False")
    text = study.reliability_discussion(result)
    assert "nan" not in text.lower() and "**Not computed:**" in text
    summary = result.summary()
    assert not summary.apply(lambda col: col.str.contains("nan", case=False)).any().any()
    assert summary.loc["lowest ECE (by)"].item() == "– (no validation split)"
