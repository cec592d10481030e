"""The report end to end: which sections appear on which data and models, the errors for bad input,
the HTML and JSON files, and the command line."""

import json

import numpy as np
import pytest
import torch
import torchvision

from cxrlib.data import open_nih_sample, open_synth_cxr
from cxrlib.models import build_model
from cxrlib.report import SECTION_KEYS, reliability_report
from cxrlib.report.__main__ import load_model, main


@pytest.fixture(scope="module")
def synth():
    return open_synth_cxr(n=300, image_size=64, seed=0, shortcut={"class_name": "Cardiomegaly", "rate": 0.9})


def _small(classes: int):
    torch.manual_seed(0)
    return build_model("small-cnn", classes).eval()


def test_every_section_is_filled_on_synthcxr(synth):
    report = reliability_report(
        _small(len(synth.classes)), synth.subset("test"), synth.subset("val"), last_layer="classifier", n_bootstrap=50
    )
    assert [s.key for s in report.sections] == list(SECTION_KEYS)
    assert all(s.available for s in report.sections), [(s.key, s.reason) for s in report.sections]
    pooled = report["calibration"].tables["Pooled over every known (image, class) decision"]
    assert list(pooled.index) == ["model", "temperature (global)", "temperature (per class)", "last-layer Laplace"]
    assert "last-layer Laplace" in report["selective"].data["aurc"]
    assert "view" in report["subgroups"].tables[
        "Per subgroup (95 % intervals: bootstrap over patients)"
    ].index.get_level_values(0)
    shortcut = report["shortcut"].tables["Share of the class maps' mass, over the known positive findings"]
    assert {"map mass outside the thorax", "map mass on the planted marker"} <= set(shortcut.index)
    assert (shortcut["share of the image"] > 0).all() and (shortcut["share of the image"] < 1).all()
    assert "CAM" in report["localization"].data["how"]
    report.close_figures()


def test_a_three_channel_model_without_maps_needs_a_layer_for_localisation(synth):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=len(synth.classes)).eval()
    test = synth.subset("test")
    without = reliability_report(model, test, in_channels=3, n_bootstrap=20)
    assert not without["localization"].available and "name a layer" in without["localization"].reason
    assert without["calibration"].notes[0].startswith("No validation split")
    with_layer = reliability_report(model, test, in_channels=3, layer="layer4", n_bootstrap=20)
    assert (
        with_layer["localization"].available and "Grad-CAM on layer 'layer4'" in with_layer["localization"].data["how"]
    )
    for report in (without, with_layer):
        report.close_figures()


def test_the_nih_sample_has_subgroups_and_boxes_but_no_shortcut_masks(tmp_path):
    nih = open_nih_sample(image_size=64, cache_dir=tmp_path)
    report = reliability_report(_small(len(nih.classes)), nih, n_bootstrap=20)
    assert not report["shortcut"].available and "marks no region" in report["shortcut"].reason
    assert report["localization"].available
    html = report.save_html(tmp_path / "r.html").read_text()
    assert "<img alt=" in html and "data:image/png;base64," in html and "Not computed" in html
    data = json.loads(report.save_json(tmp_path / "r.json").read_text())
    assert set(data["sections"]) == set(SECTION_KEYS) and data["settings"]["dataset"] == "nih"
    report.close_figures()


def test_bad_input_gets_a_clear_error(synth):
    test = synth.subset("test")
    with pytest.raises(ValueError, match=r"K = 9 \(the dataset's classes"):
        reliability_report(_small(4), test)

    class NaNModel(torch.nn.Module):
        def forward(self, x):
            out = torch.zeros(len(x), 9)
            out[1, 2] = float("nan")
            return out

    with pytest.raises(ValueError, match=rf"NaN or infinite logits for test image '{test.table['image'].iloc[1]}'"):
        reliability_report(NaNModel(), test)
    with pytest.raises(ValueError, match="they must be the same"):
        reliability_report(_small(9), test, open_synth_cxr(n=60, image_size=64, classes="chexpert5").subset("val"))
    with pytest.raises(ValueError, match="has no layer 'head'"):
        reliability_report(_small(9), test, last_layer="head")


def test_a_class_without_positives_is_named_not_a_crash():
    data = open_synth_cxr(n=200, image_size=64, seed=1, prevalence={"Edema": 0.0})
    report = reliability_report(_small(9), data.subset("test"), n_bootstrap=20)
    assert any("No AUROC for Edema" in n for n in report["discrimination"].notes)
    assert np.isnan(report["discrimination"].data["per_class"]["Edema"]["auroc"])
    report.close_figures()


def test_the_command_line_writes_html_and_json(tmp_path):
    model = load_model("cxrlib.models:build_model", None, {"backbone": "small-cnn", "num_classes": 9})
    torch.save({"model": model.state_dict()}, tmp_path / "w.pt")
    out = tmp_path / "report.html"
    main(
        [
            "--model", "cxrlib.models:build_model",
            "--factory-kwargs", '{"backbone": "small-cnn", "num_classes": 9}',
            "--weights", str(tmp_path / "w.pt"),
            "--dataset", "synth-cxr", "--image-size", "64", "--dataset-options", '{"n": 200}',
            "--last-layer", "classifier", "--bootstrap", "20", "--out", str(out),
        ]
    )  # fmt: skip
    assert out.exists() and json.loads(out.with_suffix(".json").read_text())["sections"]["discrimination"]["available"]
    with pytest.raises(ValueError, match="does not fit"):
        torch.save({"other.weight": torch.zeros(1)}, tmp_path / "bad.pt")
        load_model("cxrlib.models:build_model", str(tmp_path / "bad.pt"), {"backbone": "small-cnn", "num_classes": 9})
    with pytest.raises(ValueError, match="'module:factory'"):
        load_model("cxrlib.models.build_model")
