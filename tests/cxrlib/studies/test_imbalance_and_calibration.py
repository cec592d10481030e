"""Studies 04 (imbalance losses) and 05 (calibration): the logic beside the training loops, and one tiny
end-to-end run in which 05 loads what 04 saved."""

import dataclasses

import numpy as np
import pytest
import scipy.special

from cxrlib.studies import calibration as cal
from cxrlib.studies import imbalance_losses as imb


def test_prevalence_subsets_have_one_size_the_asked_prevalences_and_are_nested():
    rng = np.random.default_rng(0)
    labels = (rng.random(1000) < 0.3).astype(float)
    labels[:50] = np.nan  # unknown rows are never drawn
    subsets, size = imb.prevalence_subsets(labels, (0.01, 0.05, 0.2, 0.5), seed=1)
    assert size == int(min((labels == 1).sum() / 0.5, (labels == 0).sum() / 0.99))
    for p, rows in subsets.items():
        assert len(rows) == size and len(set(rows)) == size
        assert not np.isnan(labels[rows]).any()
        assert labels[rows].mean() == pytest.approx(p, abs=1 / size)
    for small, large in zip((0.01, 0.05, 0.2), (0.05, 0.2, 0.5), strict=True):
        positives = set(subsets[small][labels[subsets[small]] == 1])
        assert positives <= set(subsets[large][labels[subsets[large]] == 1])
    again, _ = imb.prevalence_subsets(labels, (0.01, 0.05, 0.2, 0.5), seed=1)
    assert all(np.array_equal(again[p], subsets[p]) for p in subsets)  # reproducible
    with pytest.raises(ValueError, match="positives and negatives"):
        imb.prevalence_subsets(np.zeros(10), (0.1,))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        imb.prevalence_subsets(labels, (0.0, 0.5))


def test_map_cosine_compares_positive_findings_and_skips_flat_maps():
    rng = np.random.default_rng(0)
    a = rng.random((4, 2, 3, 3))
    labels = np.array([[1, 0], [1, 1], [0, 0], [np.nan, 1]])
    assert imb.map_cosine(a, a, labels) == pytest.approx(1.0)
    b = a.copy()
    b[0, 0] = 0.0  # a flat map is left out, not counted as dissimilar
    assert imb.map_cosine(a, b, labels) == pytest.approx(1.0)
    c = np.zeros_like(a)
    c[:, :, 0, 0], a2 = 1.0, np.zeros_like(a)
    a2[:, :, 1, 1] = 1.0
    assert imb.map_cosine(a2, c, labels) == pytest.approx(0.0)
    assert np.isnan(imb.map_cosine(a, a, np.zeros((4, 2))))  # no positive finding


@pytest.mark.parametrize(
    "change, message",
    [
        ({"losses": ("wbce", "hinge")}, "losses"),
        ({"losses": ()}, "losses"),
        ({"sweep_prevalences": (0.0, 0.5)}, "sweep_prevalences"),
        ({"focal_gamma": -1.0}, "focal_gamma"),
        ({"focal_alpha": 1.5}, "focal_alpha"),
        ({"auc_epochs": 0}, "auc_epochs"),
    ],
)
def test_imbalance_settings_name_a_bad_value(change, message):
    with pytest.raises(ValueError, match=message):
        imb.imbalance_loss_settings("smoke", **change)


@pytest.mark.parametrize(
    "change, message",
    [({"logits_from": "cache"}, "logits_from"), ({"mimo_members": 1}, "mimo_members"), ({"n_bins": 1}, "n_bins")],
)
def test_calibration_settings_name_a_bad_value(change, message):
    with pytest.raises(ValueError, match=message):
        cal.calibration_settings("smoke", **change)


def test_calibration_shares_the_imbalance_studys_training_settings_profile_by_profile():
    """05 finds 04's logits only when the settings that made them are equal: the same fields, defaults
    and presets."""
    fields = {f.name for f in dataclasses.fields(cal.CalibrationSettings)}
    assert set(imb.TRAINING_FIELDS) <= fields and {"losses", "seeds"} <= fields
    for profile in ("smoke", "default", "full"):
        a, b = imb.imbalance_loss_settings(profile), cal.calibration_settings(profile)
        assert imb.training_config(a) == imb.training_config(b), profile
        assert a.losses == b.losses and a.seeds == b.seeds


def test_calibration_metrics_and_the_ensemble_of_probabilities():
    rng = np.random.default_rng(0)
    y = (rng.random((400, 3)) < 0.3).astype(float)
    y[:5, 0] = np.nan
    z = rng.normal(size=(400, 3)) + 2 * np.nan_to_num(y)
    m = cal.calibration_metrics(z, y)
    assert m["AUROC"] == pytest.approx(cal.calibration_metrics(z / 7.0, y)["AUROC"])  # a temperature keeps ranks
    assert 0 <= m["ECE"] <= 1 and 0 <= m["adaptive ECE"] <= 1 and 0 <= m["Brier"] <= 1 and m["NLL"] > 0
    shifted = cal.calibration_metrics(np.full_like(z, 10.0), y)  # every probability ~1: far above the rate
    assert shifted["mean p − rate"] == pytest.approx(1 - np.nanmean(y, axis=0).mean(), abs=1e-3)
    with pytest.raises(ValueError, match="NaN"):
        cal.calibration_metrics(np.where(y == 1, np.nan, z), y)
    members = [rng.normal(size=(6, 2)) for _ in range(3)]
    mean_p = np.mean([scipy.special.expit(v) for v in members], axis=0)
    assert scipy.special.expit(cal.probability_ensemble(members)) == pytest.approx(mean_p)


def _tiny(profile_settings, **extra):
    return profile_settings(
        "smoke",
        n=200,
        epochs=1,
        auc_epochs=1,
        seeds=(0,),
        backbone="small-cnn",
        device="cpu",
        progress=False,
        **extra,
    )


def test_calibration_loads_what_the_imbalance_study_saved_and_trains_when_it_does_not_match(
    tmp_path, monkeypatch, cache_dir
):
    monkeypatch.setenv("CXRLIB_RESULTS_DIR", str(tmp_path))
    s = _tiny(imb.imbalance_loss_settings, sweep_prevalences=(0.05, 0.5))
    result = imb.run_imbalance_losses(s)
    assert [(r.loss, r.seed) for r in result.runs] == [("wbce", 0), ("focal", 0), ("aucm", 0)]
    assert (tmp_path / "artifacts" / "04_imbalance_losses" / "logits.pt").exists()
    assert set(result.headline["losses"]) == {"wbce", "focal", "aucm"}
    assert {p["prevalence"] for p in result.headline["sweep"]["points"]} == {0.05, 0.5}
    assert result.overlay_figure() is not None and result.sweep_figure() is not None
    assert "Table 4.2" in imb.imbalance_loss_discussion(result)

    c = _tiny(cal.calibration_settings, mimo_members=2)
    runs, why = cal.load_saved_runs(c)
    assert runs is not None and why.startswith("loaded from 04_imbalance_losses")
    assert np.array_equal(runs[0].test_logits, result.runs[0].test_logits)
    other = dataclasses.replace(c, lr=0.5)
    runs, why = cal.load_saved_runs(other)
    assert runs is None and "lr" in why
    with pytest.raises(ValueError, match="logits_from='load'"):
        cal.run_calibration(dataclasses.replace(other, logits_from="load"))

    out = cal.run_calibration(c)
    assert out.loaded and out.headline["logits_loaded"]
    for entry in out.headline["losses"].values():
        assert entry["auroc_after_ts"] == pytest.approx(entry["auroc_before"], abs=1e-12)
        assert " → " in entry["ece_15_before_after_ts"]
    assert set(out.mimo.index) == {"single model (mean of 2)", "deep ensemble of 2", "MIMO (M = 2)"}
    assert out.mimo_info["member_seeds"] == [0, 1] and out.mimo_info["trained_members"] == [1]  # one more CE model
    assert out.mimo.loc["deep ensemble of 2", "forward passes / image"] == 2
    assert "Table 4.3" in cal.calibration_discussion(out)


def test_a_class_without_training_positives_stops_auc_m_before_anything_trains(monkeypatch, tmp_path, cache_dir):
    monkeypatch.setenv("CXRLIB_RESULTS_DIR", str(tmp_path))

    def no_training(*args, **kwargs):
        raise AssertionError("trained although AUC-M's imratio is 0 for some class")

    import cxrlib.studies.imbalance_losses.run as imb_run  # where the study calls fit

    monkeypatch.setattr(imb_run, "fit", no_training)
    with pytest.raises(ValueError, match="imratio is 0 or 1"):
        imb.run_imbalance_losses(_tiny(imb.imbalance_loss_settings, prevalence=0.0))


def test_the_source_recipe_trains_auc_m_from_the_start_without_the_ce_stage(monkeypatch, cache_dir):
    import cxrlib.studies.imbalance_losses.run as imb_run
    from cxrlib.auc import AUCMarginObjectiveLoss

    settings = imb.imbalance_loss_settings("smoke", n=120, epochs=1, seeds=(0,), auc_recipe="source", progress=False)
    ds = imb_run.open_chest_dataset(settings)
    train, val = ds.subset("train"), ds.subset("val")
    losses_seen = []
    real_fit = imb_run.fit

    def recording_fit(model, train_data, val_data, loss_fn, config, **kwargs):
        losses_seen.append(type(loss_fn).__name__)
        return real_fit(model, train_data, val_data, loss_fn, config, **kwargs)

    monkeypatch.setattr(imb_run, "fit", recording_fit)
    out = imb_run.train_losses(settings, train, val, 0, ("aucm",), list(ds.classes))
    assert set(out) == {"aucm"} and losses_seen == [AUCMarginObjectiveLoss.__name__]  # no CE stage, no PESG
    assert "Adam at lr" in imb.imbalance_loss_departures(settings).loc["DeepAUC", "this run"]
    with pytest.raises(ValueError, match="auc_recipe"):
        imb.imbalance_loss_settings("smoke", auc_recipe="pesg")


def test_05_compares_one_mimo_model_with_the_single_models_range():
    import pandas as pd

    from cxrlib.studies.calibration.discussion import mimo_against_members

    mimo = pd.Series({"mean AUROC": 0.80, "NLL": 0.263, "ECE": 0.262})
    members = {"mean AUROC": [0.70, 0.75], "NLL": [0.25, 0.27], "ECE": [0.264, 0.30]}
    text = mimo_against_members(mimo, members)
    assert "mean AUROC 0.800 was better than every single model's (0.700–0.750)" in text
    assert "NLL 0.263 lay within the single models' 0.250–0.270: not told apart" in text
    assert "ECE 0.262 was better than every single model's" in text
    assert "worse than every" in mimo_against_members(pd.Series({"mean AUROC": 0.6, "NLL": 1, "ECE": 1}), members)


def test_04_calls_maps_different_only_beyond_both_intervals():
    from cxrlib.studies.imbalance_losses.discussion import map_similarity_verdict

    reference = (0.582, 0.02)
    text = map_similarity_verdict({"Focal": (0.550, 0.03), "AUC-M": (0.40, 0.05)}, reference)
    assert "Focal maps cannot be told apart" in text  # 0.550 vs 0.582: within the intervals
    assert "AUC-M maps differ from CE's more than CE seeds do" in text
    nan = float("nan")
    assert "cannot be told apart" in map_similarity_verdict({"Focal": (0.3, nan)}, (0.757, nan))  # no interval
    one_pair = map_similarity_verdict({"Focal": (0.395, 0.635), "AUC-M": (0.313, 0.087)}, (0.757, nan))
    assert "Focal maps cannot be told apart" in one_pair and "AUC-M maps differ" in one_pair
