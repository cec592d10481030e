"""Study 09 (PYLON ablations, GAP, two-phase transfer): settings checks, the source weights of
notebook 08 (used when they fit, else trained here), and one tiny end-to-end run read back."""

import json

import numpy as np
import pytest

from cxrlib.book import record_results
from cxrlib.studies import pylon as pylon_study
from cxrlib.studies import pylon_ablations as study


@pytest.mark.parametrize(
    "change, message",
    [
        ({"ablations": ("gmp",)}, "ablations"),
        ({"ablations": ("pylon-wider",)}, "ablations"),
        ({"image_size": 72}, "image_size"),
        ({"gap_seeds": ()}, "gap_seeds"),
        ({"transfer_seeds": ()}, "transfer_seeds"),
        ({"source": "imagenet"}, "source"),
        ({"reader_rule": "any"}, "reader_rule"),
        ({"n_readers": 0}, "n_readers"),
        ({"gap_baselines": ("unet",)}, "gap_baselines"),
        ({"gap_baselines": ("pan",)}, "multiple of 256"),
    ],
)
def test_bad_settings_name_the_parameter(change, message):
    with pytest.raises(ValueError, match=message):
        study.pylon_ablation_settings("smoke", **change)


def test_profiles_resolve():
    default = study.pylon_ablation_settings("default")
    assert default.ablations == study.ABLATIONS and len(default.gap_seeds) >= 3
    full = study.pylon_ablation_settings("full")
    assert full.encoder == "resnet50" and full.image_size == 256 and len(full.transfer_seeds) == 5


@pytest.fixture(scope="module")
def source_run(cache_dir, results_dir):
    """A tiny notebook-08 run whose first-seed weights are saved as 08's artifact."""
    settings = pylon_study.pylon_settings("smoke", n=200, epochs=1, seeds=(0,), progress=False)
    result = pylon_study.run_pylon(settings)
    result.save_weights()
    return result


@pytest.fixture(scope="module")
def tiny(source_run):
    settings = study.pylon_ablation_settings(
        "smoke",
        n=200,
        epochs=1,
        gap_seeds=(0, 1),
        ablations=("pylon-up1-no-pyramid",),
        ablation_seeds=(0,),
        target_n=200,
        transfer_epochs=1,
        transfer_seeds=(0, 1),
        progress=False,
    )
    return study.run_pylon_ablations(settings)


def test_saved_source_is_used_only_when_it_fits(source_run):
    fits = study.pylon_ablation_settings("smoke", n=200)
    saved, why = study.saved_source(fits)
    assert saved is not None and set(saved["models"]) == {"pylon", "gmp"} and "08_pylon" in why
    other = study.pylon_ablation_settings("smoke", encoder="resnet34")
    saved, why = study.saved_source(other)
    assert saved is None and "encoder 'resnet18' ≠ 'resnet34'" in why


def test_tiny_run_tables(tiny):
    r = tiny
    assert r.ablation.models == ["pylon-up1", "pylon-up1+gap-pa", "pylon-up1+gap-up", "pylon-up1-no-pyramid"]
    assert "08_pylon" in r.source_note  # the saved source fitted
    table = r.ablation_table()
    assert list(table.index) == [pylon_study.model_label(m) for m in r.ablation.models]
    assert table.loc["PYLON (UP1)", "seeds"] == 2 and table.loc["PYLON (no PY, UP1)", "seeds"] == 1
    assert table.loc["PYLON (no PY, UP1)", "s.d. of weighted point acc."] == "–"  # one seed: no spread
    assert table.loc["PYLON (UP1)", "thesis: weighted point acc. (NIH)"] == "0.62 ± 0.01"
    parameters = r.parameters_table()
    assert parameters.loc["PYLON (UP1)", "thesis's configuration (reference code)"] == "594,817"
    assert parameters.loc["PYLON (UP1)", "this run"] != "–"
    agreement, pairs = r.seed_agreement("pylon-up1")
    assert pairs > 0 and -1.0 <= agreement <= 1.0
    assert np.isnan(r.seed_agreement("pylon-up1-no-pyramid")[0])  # one seed: nothing to compare
    transfer = r.transfer_table()
    assert list(transfer.index) == [*(pylon_study.model_label(a) for a in study.TRANSFER_ARMS), "boxes (test)"]
    assert transfer.loc["PYLON (two-phase)", "thesis (VinDr, macro)"] == "0.55"
    assert list(transfer.columns[:3]) == ["Macro avg.", "thesis (VinDr, macro)", "Weighted avg."]
    two_phase = [run for run in r.transfer.runs if run.model == "pylon (two-phase)"][0]
    assert set(two_phase.history["phase"]) == {1, 2}
    # the target's truth is the readers' union: every box a reader's, on an image labelled positive
    test = r.transfer.test_data
    truth = test.truth_boxes()
    assert len(truth) > 0 and truth["reader"].str.startswith("reader_").all()
    assert r.reader_agreement is not None and r.reader_agreement["sensitivity"].between(0, 1).all()


def test_tiny_run_headline_discussion_and_figures(tiny, results_dir):
    import matplotlib.pyplot as plt

    head = json.loads(record_results("09_pylon_ablations", tiny.headline).read_text())
    assert set(head["transfer"]["arms"]) == set(study.TRANSFER_ARMS)
    for arm in head["transfer"]["arms"].values():
        assert 0.0 <= arm["point_localization_macro"] <= 1.0
    assert (
        head["models"]["pylon-up1"]["seeds"] == 2
        and head["models"]["pylon-up1-no-pyramid"]["point_localization_weighted_sd"] is None
    )
    assert head["run"]["models_trained"] == 2 * 3 + 1 + 2 * 5  # no source trained: 08's weights fitted
    text = study.ablation_discussion(tiny)
    assert "Table 6.2" in text and "Table 6.1" in text and "Table 5.5" in text and "nan" not in text.lower()
    assert ("holds in the means" in text) != ("does not hold in the means" in text)
    assert tiny.seeds_figure() is not None
    assert tiny.gap_maps_figure() is not None
    plt.close("all")


def test_transfer_arms_follow_the_thesis_columns_and_vindr_gets_its_split(monkeypatch):
    import cxrlib.studies.common as common
    from cxrlib.studies.pylon_ablations.run import VINDR_SPLIT

    default = study.pylon_ablation_settings("default")
    assert study.transfer_arms(default) == study.TRANSFER_ARMS
    full = study.pylon_ablation_settings("full")
    assert full.augment and study.transfer_arms(full)[:4] == (
        "gmp (scratch)",
        "li2018 (scratch)",
        "fpn (scratch)",
        "pylon (scratch)",
    )
    with pytest.raises(ValueError, match="transfer_baselines"):
        study.pylon_ablation_settings("smoke", transfer_baselines=("unet",))
    seen = {}

    def fake_open(name, **kwargs):
        seen.update(kwargs, name=name)
        raise RuntimeError("stop here")

    monkeypatch.setattr(common, "open_dataset", fake_open)
    with pytest.raises(RuntimeError, match="stop here"):
        study.open_transfer_target(study.pylon_ablation_settings("smoke", target_dataset="vindr", target_root="/x"))
    assert seen["name"] == "vindr" and seen["fractions"] == dict(VINDR_SPLIT) and seen["root"] == "/x"
