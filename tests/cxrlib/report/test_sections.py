"""The sections' own arithmetic against hand computations: Chow's rule, the subgroup FNR, the
shortcut probe, and patients without an id."""

import numpy as np
import pandas as pd
import pytest
import torch

from cxrlib.report.bootstrap import PatientBootstrap
from cxrlib.report.maps_pass import MapPass
from cxrlib.report.scoring import Scores
from cxrlib.report.selective import chow_table
from cxrlib.report.shortcut import shortcut_section
from cxrlib.report.subgroups import subgroup_labels, subgroup_table


def test_chow_answers_where_min_p_1_minus_p_is_at_most_the_cost():
    probs = np.array([[0.3], [0.7], [0.95], [0.5], [0.1]])
    labels = np.array([[0.0], [0.0], [1.0], [np.nan], [1.0]])
    table = chow_table(probs, labels, costs=(0.3, 0.05))
    # known decisions: 0.3 (answered at c = 0.3, right), 0.7 (answered, wrong), 0.95 (right), 0.1 (wrong)
    assert table.loc["c = 0.3", "coverage"] == 1.0 and table.loc["c = 0.3", "kept accuracy"] == 0.5
    assert table.loc["c = 0.05", "coverage"] == 0.25 and table.loc["c = 0.05", "kept accuracy"] == 1.0
    assert table.loc["c = 0.05", "system cost"] == (3 * 0.05 + 0) / 4


def _scores(n=60):
    rng = np.random.default_rng(0)
    labels = (rng.random((n, 2)) < 0.4).astype(float)
    logits = rng.normal(0, 1, (n, 2)) + 1.5 * (labels - 0.5)
    table = pd.DataFrame(
        {
            "image": [f"{i}.png" for i in range(n)],
            "patient_id": [str(i // 2) for i in range(n)],
            "view": ["PA" if i % 3 else "AP" for i in range(n)],
            "age": [25 + (i * 7) % 70 for i in range(n)],
        }
    )
    return Scores(logits, labels, table, np.arange(n))


def test_subgroup_fnr_is_the_share_of_positives_below_one_half():
    scores = _scores()
    table = subgroup_table(scores, PatientBootstrap.draw(scores.table["patient_id"], 50))
    for view in ("AP", "PA"):
        rows = (scores.table["view"] == view).to_numpy()
        positive = scores.labels[rows] == 1
        expected = (positive & (scores.probs[rows] < 0.5)).sum() / positive.sum()
        assert table.loc[("view", view), "FNR at 0.5"] == expected
        assert table.loc[("view", view), "FNR low"] <= expected <= table.loc[("view", view), "FNR high"]
    assert list(subgroup_labels(scores.table)["age"].dropna().unique())  # banded
    ages = [g for a, g in table.index if a == "age"]
    assert ages == [g for g in ["<40", "40–59", "60–79", "80+"] if g in ages]  # in age order, not text order


def test_the_subgroup_gap_interval_is_the_per_resample_difference_over_shared_classes():
    from sklearn.metrics import roc_auc_score

    from cxrlib.report.subgroups import subgroups_section

    scores = _scores(90)
    bootstrap = PatientBootstrap.draw(scores.table["patient_id"], 120, seed=1)
    gap = subgroups_section(scores, bootstrap).data["gaps"]["view: mean AUROC"]
    groups = {v: (scores.table["view"] == v).to_numpy() for v in ("AP", "PA")}
    differences = []
    for w in bootstrap.weights:  # brute force: every image repeated as often as its patient was drawn
        means = {}
        for view, rows in groups.items():
            means[view] = np.mean(
                [roc_auc_score(scores.labels[rows, k], scores.logits[rows, k], sample_weight=w[rows]) for k in (0, 1)]
            )
        differences.append(means[gap["highest"]] - means[gap["lowest"]])
    assert (gap["gap_low"], gap["gap_high"]) == pytest.approx(tuple(np.quantile(differences, [0.025, 0.975])))
    assert gap["gap_classes"] == 2 and gap["gap_low"] <= gap["gap"] <= gap["gap_high"]


def test_the_shortcut_probe_leaves_blank_maps_out():
    maps = torch.zeros(2, 1, 4, 4)
    maps[0, 0, 0, 0] = 1.0  # image 0: all mass in a corner outside the thorax; image 1: a blank map
    thorax = torch.zeros(2, 4, 4, dtype=torch.bool)
    thorax[:, 1:3, 1:3] = True
    section = shortcut_section(MapPass(maps, np.arange(2), "test maps", {"thorax_mask": thorax}), np.ones((2, 1)))
    row = section.tables["Share of the class maps' mass, over the known positive findings"].iloc[0]
    assert row["pairs"] == 1 and row["mean share"] == 1.0 and row["share of the image"] == 0.75
    assert "1 positive findings with a blank map" in section.notes[0]


def test_images_without_a_patient_id_are_patients_of_their_own():
    weights = PatientBootstrap.draw(np.array(["a", "a", None, np.nan, ""], dtype=object), 200, seed=0).weights
    assert (weights[:, 0] == weights[:, 1]).all()
    assert not (weights[:, 2] == weights[:, 3]).all() and not (weights[:, 3] == weights[:, 4]).all()
    assert (weights[:, [0, 2, 3, 4]].sum(1) == 4).all()  # four patients: a and three without an id


def test_a_uniform_map_puts_the_box_share_inside_the_boxes():
    from cxrlib.report.localization import mass_in_boxes

    boxes = pd.DataFrame(
        [("a", "x", 2.0, 3.0, 4.0, 5.0), ("a", "x", 10.0, 10.0, 2.0, 2.0), ("b", "y", 0.0, 0.0, 8.0, 16.0)],
        columns=["image", "class", "x", "y", "w", "h"],
    )
    maps = torch.ones(2, 2, 16, 16)
    table = mass_in_boxes(maps, ["a", "b"], boxes, ["x", "y"], (16, 16)).set_index("image")
    assert table.loc["a", "box_share"] == (4 * 5 + 2 * 2) / 256 and table.loc["b", "box_share"] == 0.5
    assert np.allclose(table["mass_inside"], table["box_share"])
    # a fractional box covers the pixels whose centre it holds, as a point-localisation hit counts them
    fractional = pd.DataFrame([("a", "x", 1.2, 1.2, 2.6, 2.6)], columns=["image", "class", "x", "y", "w", "h"])
    share = mass_in_boxes(maps[:1], ["a"], fractional, ["x", "y"], (16, 16))["box_share"].item()
    assert share == 9 / 256  # centres 1.5, 2.5, 3.5 lie in [1.2, 3.8] on each axis


def test_an_auroc_on_a_handful_of_positives_is_flagged():
    from cxrlib.report.discrimination import discrimination_section

    scores = _scores(60)
    scores.labels[:, 1] = 0.0
    scores.labels[:3, 1] = 1.0  # three positives for the second class
    section = discrimination_section(scores, ["a", "b"], PatientBootstrap.draw(scores.table["patient_id"], 30))
    flagged = [f for f in section.findings if f.startswith("Fewer than 5 positive images")]
    assert len(flagged) == 1 and "b (3)" in flagged[0] and "a (" not in flagged[0]
