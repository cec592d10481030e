"""Study 08 (PYLON): the settings' checks, and one tiny end-to-end run whose tables, headline and
discussion are read back."""

import json

import numpy as np
import pytest

from cxrlib.book import record_results
from cxrlib.studies import pylon as study


@pytest.mark.parametrize(
    "change, message",
    [
        ({"models": ("pylon", "segformer")}, "models"),
        ({"models": ()}, "models"),
        ({"models": ("pan",), "image_size": 64}, "multiple of 256"),
        ({"image_size": 72}, "image_size"),
        ({"seeds": ()}, "seeds"),
    ],
)
def test_bad_settings_name_the_parameter(change, message):
    with pytest.raises(ValueError, match=message):
        study.pylon_settings("smoke", **change)


def test_profiles_resolve():
    assert study.pylon_settings("default").encoder == "resnet18"
    full = study.pylon_settings("full")
    assert full.encoder == "resnet50" and full.image_size == 256 and len(full.seeds) == 5 and full.augment
    assert {"pylon", "gmp", "li2018", "unet", "fpn", "deeplabv3plus", "pan"} == set(full.models)


@pytest.fixture(scope="module")
def tiny(cache_dir):
    settings = study.pylon_settings(
        "smoke", n=200, epochs=1, seeds=(0, 1), models=("pylon", "gmp"), augment=True, progress=False
    )
    return study.run_pylon(settings)


def test_tiny_run_tables_headline_and_discussion(tiny, tmp_path, monkeypatch):
    r = tiny
    assert r.models == ["pylon", "gmp"] and len(r.runs) == 4
    table = r.localization_table()
    assert list(table.index) == ["PYLON", "GMP baseline", "boxes (test)"]  # the reader's names, not the keys
    assert list(table.columns[:2]) == ["Weighted avg.", "Macro avg."] and "Nodule" in table.columns
    cell = table.loc["PYLON", "Weighted avg."]
    assert "±" in cell or ("[" in cell and "]" in cell)  # two seeds: an interval (clipped to [0, 1])
    auc = r.auroc_table()
    assert auc.loc["PYLON", "map grid"] == "16×16" and auc.loc["GMP baseline", "map grid"] == "2×2"
    conc = r.peak_concentration()
    assert ((conc.fillna(0.5) > 0) & (conc.fillna(0.5) <= 1)).all().all()
    assert r.iobb_table().shape == (2, len(r.classes))
    monkeypatch.setenv("CXRLIB_RESULTS_DIR", str(tmp_path))
    head = json.loads(record_results("08_pylon", r.headline).read_text())
    assert head["models"]["pylon"]["map_grid"] == [16, 16]
    assert 0.0 <= head["models"]["gmp"]["point_localization_weighted"] <= 1.0
    assert "Nodule" in head["small_lesion_classes"]
    assert isinstance(head["small_lesions"]["pylon_beats_gmp"], bool)
    text = study.pylon_discussion(r)
    verdict = "**PYLON beats the GMP baseline on point localisation of every small-lesion class" in text
    assert verdict is head["small_lesions"]["pylon_beats_gmp"]
    assert verdict or "**PYLON does not beat the GMP baseline" in text or "**PYLON beats the GMP baseline on no" in text
    assert "nan" not in text.lower()
    assert np.isfinite(r.runs[0].maps).all()


def test_tiny_run_figure(tiny):
    import matplotlib.pyplot as plt

    fig = tiny.overlay_figure()
    assert fig is not None and len(fig.axes) >= 3
    plt.close("all")


def test_tiny_run_chapter7_and_real_nih_figures(tiny):
    import matplotlib.pyplot as plt

    assert set(tiny.trained) == {"pylon", "gmp"}
    histograms = tiny.layer_histogram_figure()
    assert histograms is not None and len(histograms.axes) == 4  # PA, UP1, UP2, UP3
    layers = tiny.layer_figure()
    assert layers is not None and len(layers.axes) >= 5  # image + PA, PA…UP1, PA…UP2, PA…UP3
    channels = tiny.channel_figure()
    assert channels is not None and len(channels.axes) >= 6
    assert tiny.channel_figure(shown=(1, 2, 3), cumulative=False) is not None
    cumulative = tiny.cumulative_histogram_figure()
    assert cumulative is not None and len([ax for ax in cumulative.axes if ax.has_data()]) == 4
    nih = tiny.nih_sample_figure()
    assert nih is not None and len(nih.axes) >= 9 * 3  # 9 of the 12 real boxes have a SynthCXR class
    pyramid = tiny.pyramid_table()
    assert list(pyramid["map"]) == ["2×2", "1×1", "1×1", "1×1"]  # at 64 px the pyramid is a scalar
    assert tiny.attention_figure() is not None
    assert "The pyramid at 64 px" in study.pylon_discussion(tiny)
    plt.close("all")
