"""Study 07 (learning to defer): the settings' checks, and one tiny end-to-end run whose tables, headline
and discussion are read back."""

import json

import numpy as np
import pytest

from cxrlib.book import record_results
from cxrlib.studies import defer as study


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rules": ("confidence",)}, "rules"),
        ({"rules": ("error-model", "oracle")}, "rules"),
        ({"fractions": (0.7, 0.15, 0.15)}, "fractions"),
        ({"fractions": (0.5, 0.2, 0.2, 0.2)}, "sum to 1"),
        ({"cost": 0.0}, "cost"),
        ({"table_costs": (0.1, 1.0)}, "table_costs"),
        ({"weak_class": "Cardiomegaly"}, "weak_class"),
        ({"weak_sensitivity": 1.5}, "weak_sensitivity"),
        ({"error_balance": "oversample"}, "error_balance"),
        ({"dropout": 0.0}, "dropout"),
        ({"backbone": "vit"}, "backbone"),
        ({"unit": "patient"}, "unit"),
    ],
)
def test_bad_settings_name_the_parameter(change, message):
    with pytest.raises(ValueError, match=message):
        study.defer_settings("smoke", **change)


def test_profiles_resolve():
    assert study.defer_settings("smoke").backbone == "small-cnn"
    full = study.defer_settings("full")
    assert full.backbone == "densenet121" and full.image_size == 224 and len(full.seeds) == 5


@pytest.fixture(scope="module")
def tiny(cache_dir):
    settings = study.defer_settings(
        "smoke",
        n=400,
        epochs=1,
        seeds=(0,),
        rules=("error-model", "confidence", "mc-dropout", "surrogate"),
        error_epochs=5,
        mc_samples=3,
        table_costs=(0.01, 0.2),
        progress=False,
    )
    return study.run_defer(settings)


def test_tiny_run_tables_headline_and_discussion(tiny, tmp_path, monkeypatch):
    r = tiny
    assert r.rule_names == ["error-model", "confidence", "mc-dropout", "surrogate"]
    assert r.run["n_train"] + r.run["n_error"] + r.run["n_val"] + r.run["n_test"] == 400
    assert r.labels.shape == r.clinician.shape == r.weak_clinician.shape == (r.run["n_test"], 3)
    k = r.classes.index("Pneumothorax")
    others = [j for j in range(3) if j != k]
    np.testing.assert_array_equal(r.clinician[:, others], r.weak_clinician[:, others])  # weak on one class only
    table = r.cost_table()
    assert table.shape == (8, 5) and not table.isna().any().any()  # text: "nothing kept", never NaN
    assert r.cost_table(columns=study.SENSITIVITY_COLUMNS).shape == (8, 3)
    summary = r.summary()
    assert list(summary.index) == [r.label(x) for x in r.rule_names]
    assert list(summary.columns) == [*r.ranking_summary().columns, *r.cost_summary().columns]
    matched = r.matched_coverage_table()  # one table for every rule against the error model
    assert matched.shape == (len(r.rule_names), len(study.COVERAGES)) and not matched.isna().any().any()
    assert matched.iloc[1:].map(lambda cell: cell[0] in "+-").all().all()  # signed differences
    monkeypatch.setenv("CXRLIB_RESULTS_DIR", str(tmp_path))
    head = json.loads(record_results("07_defer", r.headline).read_text())
    assert head["rules"]["error-model"]["sweep"]["cost"] == list(study.SWEEP_COSTS)
    assert 0.0 <= head["rules"]["error-model"]["coverage_at_c"] <= 1.0
    assert head["weak_clinician"]["class"] == "Pneumothorax"
    text = study.defer_discussion(r)
    assert "**At c = 0.2**" in text and "too few for a verdict" in text  # one seed: no verdicts
    assert "nan" not in text.lower()


def test_tiny_run_figures(tiny):
    import matplotlib.pyplot as plt

    figures = [tiny.sweep_figure("all"), tiny.risk_coverage_figure(), tiny.weak_figure(), tiny.overlay_figure()]
    for fig in figures:
        assert fig is not None
        plt.close(fig)


def test_seed_values_of_a_rule_that_keeps_nothing(tiny):
    r = tiny
    rule = "confidence"
    coverage = r.seed_values(rule, 0.01, "coverage")
    kept = r.seed_values(rule, 0.01, "kept accuracy")
    system = r.seed_values(rule, 0.01, "system accuracy")
    assert coverage.shape == (1,)
    if coverage[0] == 0:  # everything deferred: the clinician answers, the kept accuracy is undefined
        assert np.isnan(kept[0]) and system[0] == pytest.approx(r.no_deferral().loc["images", "clinician accuracy"])
    else:
        assert 0 <= kept[0] <= 1


def test_the_source_defers_whole_images_and_counts_coverage_in_images(tiny):
    r, c = tiny, tiny.settings.cost
    assert r.settings.unit == "image" and r.pooled == "images"
    for rule in r.runs[0].rules.values():  # every rule keeps or defers an image as a whole
        assert (rule.deferral_score == rule.deferral_score[:, :1]).all()
    known = ~np.isnan(r.labels).all(1)
    deferred = r.runs[0].rules["error-model"].defer(c)[:, 0]
    assert r.seed_values("error-model", c, "coverage")[0] == pytest.approx((~deferred[known]).mean())
    units = r.unit_table()
    assert list(units.columns) == ["per image (source)", "per finding"]
    assert set(r.headline["unit_comparison"]) == {"image", "finding"}
    nd = r.no_deferral()
    assert {"classifier AUROC", "classifier sensitivity", "clinician sensitivity"} <= set(nd.columns)
    assert 0 <= r.headline["auroc_no_deferral"] <= 1 and 0 <= r.headline["sensitivity_no_deferral"] <= 1
    assert r.headline["image_accuracy_no_deferral"] <= r.headline["decision_accuracy_no_deferral"]
    sens = r.headline["rules"]["error-model"]["system_sensitivity_at_c"]
    assert sens is None or 0 <= sens <= 1
