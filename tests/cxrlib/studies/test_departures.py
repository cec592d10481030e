"""The "How this run differs from the source" tables: built from the settings, true on every profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxrlib.studies import STUDY_RUNNERS
from cxrlib.studies.baseline import baseline_departures
from cxrlib.studies.calibration import calibration_departures
from cxrlib.studies.defer import defer_departures
from cxrlib.studies.departures import Departure, departures_table, show_departures
from cxrlib.studies.heatmap_loss import heatmap_loss_departures
from cxrlib.studies.imbalance_losses import imbalance_loss_departures
from cxrlib.studies.laplace import laplace_departures
from cxrlib.studies.pylon import pylon_departures
from cxrlib.studies.pylon_ablations import ablation_departures
from cxrlib.studies.saliency_losses import saliency_loss_departures

DEPARTURES = {
    "01_baseline": baseline_departures,
    "02_saliency_losses": saliency_loss_departures,
    "03_heatmap_loss": heatmap_loss_departures,
    "04_imbalance_losses": imbalance_loss_departures,
    "05_calibration": calibration_departures,
    "06_laplace": laplace_departures,
    "07_defer": defer_departures,
    "08_pylon": pylon_departures,
    "09_pylon_ablations": ablation_departures,
}
NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"


@pytest.mark.parametrize("study", DEPARTURES)
@pytest.mark.parametrize("profile", ["smoke", "default", "full"])
def test_every_profile_gets_a_table_of_filled_rows_that_state_its_own_values(study, profile):
    settings = STUDY_RUNNERS[study][0](profile)
    table = DEPARTURES[study](settings)
    assert list(table.columns) == ["source", "this run", "why"] and table.index.is_unique
    assert table.notna().all().all() and (table.map(str).map(len) > 0).all().all()
    if "image size" in table.index:
        assert table.loc["image size", "this run"] == f"{settings.image_size} px"
    if "runs per arm" in table.index:
        assert table.loc["runs per arm", "this run"].startswith(str(len(settings.seeds)))


@pytest.mark.parametrize(
    ("study", "followed"),
    [
        ("01_baseline", {"image size", "initialisation", "networks"}),
        ("02_saliency_losses", {"image size", "initialisation", "network"}),
        ("04_imbalance_losses", {"image size", "initialisation", "optimiser"}),
        ("07_defer", {"initialisation", "network"}),  # the proposal states no image size: that row stays
        ("08_pylon", {"image size", "network", "initialisation", "augmentation", "pyramid attention"}),
        ("09_pylon_ablations", {"image size", "seeds", "Table 6.1 (A), (C)", "without transfer starts from"}),
    ],
)
def test_full_drops_the_rows_where_it_follows_the_source(study, followed):
    settings_for = STUDY_RUNNERS[study][0]
    default, full = DEPARTURES[study](settings_for("default")), DEPARTURES[study](settings_for("full"))
    assert followed <= set(default.index)
    assert not followed & set(full.index)
    assert {"data", "training length", "evaluated on"} <= set(full.index)  # no profile removes these


def test_a_parameter_changes_the_row_that_describes_it():
    settings_for = STUDY_RUNNERS["02_saliency_losses"][0]
    assert "λ2 = 3" in saliency_loss_departures(settings_for("smoke", lambda_sc=3.0)).loc["L_SC", "this run"]
    assert "L_SC" not in saliency_loss_departures(settings_for("smoke", arms=("ce", "custom"))).index
    maps = saliency_loss_departures(settings_for("smoke", cd_latent="maps")).loc["L_CD latent", "this run"]
    assert maps.startswith("the Grad-CAM maps themselves")
    heatmap = STUDY_RUNNERS["03_heatmap_loss"][0]
    assert "heatmap term" in heatmap_loss_departures(heatmap("smoke")).index
    assert "heatmap term" not in heatmap_loss_departures(heatmap("smoke", heatmap_form="raw")).index
    baseline = STUDY_RUNNERS["01_baseline"][0]
    assert "VGG-19 head" not in baseline_departures(baseline("default")).index
    assert "VGG-19 head" in baseline_departures(baseline("default", backbones=("vgg19",))).index
    defer_for = STUDY_RUNNERS["07_defer"][0]
    assert "deferral unit" not in defer_departures(defer_for("smoke")).index  # the source's unit by default
    assert (
        "each (image, finding)" in defer_departures(defer_for("smoke", unit="finding")).loc["deferral unit", "this run"]
    )


def test_the_table_keeps_differing_rows_and_says_so_when_none_differ():
    rows = [Departure("a", "1", "2", "why"), Departure("b", "1", "1", "", differs=False)]
    assert list(departures_table(rows).index) == ["a"]
    assert list(departures_table(rows, everything=True).index) == ["a", "b"]
    assert departures_table(rows, everything=True).loc["b", "why"] == "–"
    empty = show_departures(departures_table(rows[1:]))
    assert "follows the source" in empty.to_html()
    assert "How this run differs from the source" in show_departures(departures_table(rows)).to_html()


@pytest.mark.parametrize("study", DEPARTURES)
def test_every_study_notebook_shows_its_table(study):
    cells = json.loads((NOTEBOOKS / f"{study}.ipynb").read_text())["cells"]
    text = ["".join(c["source"]) for c in cells]
    assert any(t.startswith("## How this run differs from the source") for t in text)
    assert f"show_departures({DEPARTURES[study].__name__}(settings))" in text


def test_pylon_rows_follow_the_models_and_the_image_size():
    settings_for = STUDY_RUNNERS["08_pylon"][0]
    smoke = pylon_departures(settings_for("smoke"))
    assert "one number per image" in smoke.loc["pyramid attention", "why"]
    assert "Li 2018's grid" not in smoke.index  # smoke trains PYLON and GMP only
    assert "Li 2018's grid" in pylon_departures(settings_for("default")).index
    assert "input size of Table 5.3" not in pylon_departures(settings_for("smoke", image_size=512)).index
