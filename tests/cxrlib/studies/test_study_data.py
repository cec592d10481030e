"""How the studies open their data and measure finding sizes, on SynthCXR and on real-format fixtures."""

import numpy as np
import pytest

from cxrlib.studies import open_study_dataset
from cxrlib.studies.data_overview import finding_sizes


def test_real_sources_get_the_common_options_only(nih_root, cache_dir):
    ds = open_study_dataset(
        "nih",
        str(nih_root),
        options=dict(
            image_size=32, classes=["Atelectasis", "Effusion"], label_policy="sharma2023", seed=2, progress=False
        ),
        synth_options=dict(n=10, shortcut={"class_name": "Pneumothorax", "rate": 0.9}),
    )
    assert ds.image_size == (32, 32) and ds.classes == ["Atelectasis", "Effusion"]
    assert ds.info["options"]["seed"] == 2
    assert ds.info["study_options_not_used"] == ["n", "shortcut"]
    with pytest.raises(ValueError, match="not common reader options"):
        open_study_dataset("nih", str(nih_root), options=dict(n=10))
    with pytest.raises(ValueError, match="needs root="):
        open_study_dataset("nih", None, options={})


def test_finding_sizes_from_boxes_alone_without_masks(nih_root, cache_dir):
    ds = open_study_dataset("nih", str(nih_root), options=dict(image_size=32, progress=False))
    sizes = finding_sizes(ds)
    assert list(sizes.index) == ds.classes
    assert sizes["mask_%_median"].isna().all() and (sizes["count"] == 0).all()
    assert sizes.loc["Mass", "boxes"] == 1
    assert sizes.loc["Mass", "box_%_median"] == pytest.approx(100 * 300 * 150 / 1024**2)
    assert np.isnan(sizes.loc["Edema", "box_%_median"])


def test_finding_sizes_on_synthcxr_count_truth_boxes_only(synth):
    sizes = finding_sizes(synth, limit=40)
    assert sizes["boxes"].sum() == len(synth.truth_boxes()) < len(synth.boxes)  # reader boxes are not truth
    measured = sizes["count"] > 0
    assert measured.any() and (sizes.loc[measured, "mask_%_median"] > 0).all()


def test_02_says_where_our_auroc_level_lies_against_the_source():
    from cxrlib.studies.saliency_losses.discussion import absolute_level_sentence

    assert "lie above the source's 0.745–0.756" in absolute_level_sentence([0.79, 0.798])
    assert "lie below" in absolute_level_sentence([0.58, 0.60])
    assert "lie around" in absolute_level_sentence([0.74, 0.75])
    assert "No arm" in absolute_level_sentence([float("nan")])


def test_display_tables_have_named_indexes_and_no_nan_cells():
    import numpy as np
    import pandas as pd

    from cxrlib.studies import heatmap_loss_settings, laplace_settings
    from cxrlib.studies.heatmap_loss.result import HeatmapLossResult, ModelScore
    from cxrlib.studies.laplace.result import LaplaceResult

    models = [
        ModelScore("1", arm, seed, 1e-3, seed == 0, {"heart overlap": 0.5 + seed}, pd.DataFrame(), 1.0)
        for arm in ("none", "heatmap loss")
        for seed in (0, 1)
    ] + [ModelScore("3", "none", 0, 1e-3, True, {"map on marker": 0.2}, pd.DataFrame(), 1.0)]
    r = HeatmapLossResult(heatmap_loss_settings("smoke"), models)
    one = r.models_table("1")
    assert one.index.names == ["arm", "seed"] and list(one.columns) == ["lr", "kept", "heart overlap"]
    assert set(one["kept"]) == {"yes", "no"} and not one.isna().any().any()
    table1 = pd.DataFrame(
        {"accuracy": [0.7, 0.69], "ECE": [0.16, 0.19], "fit (s)": [np.nan, 0.04]}, index=["MAP", "Laplace diag"]
    )
    shown = LaplaceResult(laplace_settings("smoke"), table1, {}, {}).table1_display()
    assert shown.loc["MAP", "fit (s)"] == "–" and shown.loc["Laplace diag", "fit (s)"] == "0.04"
    assert shown.loc["Laplace diag", "ECE"] == 0.19
    assert list(LaplaceResult(laplace_settings("smoke"), table1, {}, {}).table1_display("timing").columns) == [
        "fit (s)"
    ]


def test_real_nih_images_and_synthetic_ones_line_up_by_finding(synth):
    """00 showed the NIH row and the SynthCXR row in different finding orders: column j of both must
    show the same finding."""
    import matplotlib.pyplot as plt

    from cxrlib.data import open_nih_sample
    from cxrlib.studies.data_overview import real_beside_synthetic

    spelled = {"Effusion": "Pleural Effusion", "Infiltrate": "Infiltration"}
    real, synthetic = real_beside_synthetic(synth, open_nih_sample(64), n=4)
    top = [ax.get_title() for ax in real.axes if ax.get_title()]
    bottom = [ax.get_title() for ax in synthetic.axes if ax.get_title()]
    assert len(top) == len(bottom) >= 2
    for nih_title, synth_title in zip(top, bottom, strict=True):
        nih_findings = {spelled.get(f, f) for f in nih_title.split("\n")[1].split(", ")}
        assert nih_findings & set(synth_title.split("\n")), (nih_title, synth_title)
    plt.close("all")
