"""Acceptance: every study's run function on every real reader's fixture (tiny images, one epoch)."""

import json

import numpy as np
import pytest

from cxrlib.book import record_results
from cxrlib.studies import baseline_settings, data_settings, run_baseline, run_data_overview
from cxrlib.studies.common import boxed_examples

#: per source: its fixture and the classes the baseline trains on (each has train positives in the fixture)
SOURCES = {
    "chexpert": ("chexpert_root", "chexpert5"),
    "mimic": ("mimic_root", "chexpert5"),
    "nih": ("nih_root", "chexpert5"),
    "vindr": ("vindr_root", ["Cardiomegaly", "Pleural effusion"]),  # VinDr has no Edema: no chexpert5
    "mura": ("mura_root", "all"),  # the seven one-hot body parts
}
WITH_BOXES = {"nih", "vindr"}


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """What a notebook's ``record_results`` writes for a headline (NaN becomes null), read back."""
    monkeypatch.setenv("CXRLIB_RESULTS_DIR", str(tmp_path))
    return lambda headline: json.loads(record_results("headline", headline).read_text())


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_data_overview_runs_on_reader(source, request, cache_dir, recorded):
    root = request.getfixturevalue(SOURCES[source][0])
    overview = run_data_overview(
        data_settings("smoke", dataset=source, data_root=str(root), image_size=32, progress=False)
    )
    ds, head = overview.dataset, recorded(overview.headline)
    assert ds.name == source and head["images"] == len(ds) > 0
    assert head["masks"].startswith("not available")
    assert head["smallest_median_mask_pct"] is None and overview.sizes["mask_%_median"].isna().all()
    assert list(overview.sizes.index) == ds.classes
    assert set(overview.audit.index) == {"train", "val", "test"}
    assert list(overview.label_counts.index) == ds.classes
    assert ds.info["study_options_not_used"] == ["n", "readers", "shortcut", "studies_per_patient", "uncertain_rate"]
    if source in WITH_BOXES:
        assert head["boxes"] == len(ds.truth_boxes()) > 0
        assert 0 < head["smallest_median_box_pct"] <= head["largest_median_box_pct"] <= 100
    else:
        assert head["boxes"] == 0 and head["smallest_median_box_pct"] is None
    if source in ("chexpert", "mimic"):
        assert "reported uncertain (-1)" in overview.label_counts


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_baseline_runs_on_reader(source, request, cache_dir, recorded):
    fixture, classes = SOURCES[source]
    root = request.getfixturevalue(fixture)
    settings = baseline_settings(
        "smoke",
        dataset=source,
        data_root=str(root),
        classes=classes,
        image_size=32,
        backbones=("small-cnn",),
        epochs=1,
        batch_size=8,
        progress=False,
    )
    result = run_baseline(settings)
    run = result.runs[0]
    assert result.test_data.name == source and len(result.classes) == run.probs.shape[1]
    assert np.isfinite(run.probs).all() and np.isfinite(run.maps).all()
    assert np.isfinite(run.history["train_loss"]).all()
    auroc = run.auroc.drop("mean")
    assert ((auroc >= 0) & (auroc <= 1) | auroc.isna()).all()  # NaN only for a class with one label value in test
    headline = recorded(result.headline)
    head = headline["backbones"]["small-cnn"]
    assert head["cam_mass_in_mask"] is None and headline["masks"].startswith("not available")
    if source in WITH_BOXES:
        assert result.localization_available
        assert 0.0 <= head["point_localization_accuracy"] <= 1.0
        assert run.localization.loc["weighted", "n"] > 0
        positions, class_index = boxed_examples(result.test_data)
        assert positions and all(0 <= p < len(result.test_data) for p in positions)
        assert result.overlay_figure() is not None
    else:
        assert not result.localization_available and result.localization_note.startswith("not available")
        assert head["point_localization_accuracy"] is None
        assert boxed_examples(result.test_data) == ([], []) and result.overlay_figure() is None
    assert set(result.summary().columns) >= {"mean AUROC", "point loc. acc."}


@pytest.mark.parametrize("source", sorted(WITH_BOXES))
def test_pylon_runs_on_reader(source, request, cache_dir, recorded):
    from cxrlib.studies import pylon_settings, run_pylon
    from cxrlib.studies.pylon import pylon_discussion

    fixture, classes = SOURCES[source]
    settings = pylon_settings(
        "smoke",
        dataset=source,
        data_root=str(request.getfixturevalue(fixture)),
        classes=classes,
        epochs=1,
        batch_size=8,
        seeds=(0,),
        progress=False,
    )
    result = run_pylon(settings)
    assert result.test_data.name == source and result.models == ["pylon", "gmp"]
    head = recorded(result.headline)
    for m in ("pylon", "gmp"):
        assert 0.0 <= head["models"][m]["point_localization_weighted"] <= 1.0
    assert result.runs[0].localization.loc["weighted", "n"] > 0  # the reader's real boxes were scored
    assert "nan" not in pylon_discussion(result).lower()


def test_pylon_transfer_runs_from_nih_to_vindr(nih_root, vindr_root, cache_dir, recorded):
    """The thesis's transfer on the real readers' fixtures: NIH (source) → VinDr-CXR (target), other
    classes on each side, so the class head is new and every other weight comes from the source."""
    from cxrlib.studies import pylon_ablation_settings, run_pylon_ablations
    from cxrlib.studies.pylon_ablations import ablation_discussion

    settings = pylon_ablation_settings(
        "smoke",
        dataset="nih",
        data_root=str(nih_root),
        classes=SOURCES["nih"][1],
        ablations=(),
        gap_seeds=(0, 1),
        epochs=1,
        batch_size=8,
        target_dataset="vindr",
        target_root=str(vindr_root),
        target_classes=SOURCES["vindr"][1],
        transfer_epochs=1,
        transfer_seeds=(0,),
        progress=False,
    )
    result = run_pylon_ablations(settings)
    assert result.transfer.test_data.name == "vindr" and result.transfer.classes == SOURCES["vindr"][1]
    assert result.reader_agreement is None  # a real target has no generator truth to compare with
    assert "trained here" in result.source_note  # 08's saved weights are for SynthCXR, not NIH
    head = recorded(result.headline)
    assert set(head["transfer"]["arms"]) == {
        "gmp (scratch)",
        "pylon (scratch)",
        "gmp (fine-tuned)",
        "pylon (fine-tuned)",
        "pylon (two-phase)",
    }
    assert "Table 5.5" in ablation_discussion(result)
