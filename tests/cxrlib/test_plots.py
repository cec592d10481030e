import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from cxrlib import plots  # noqa: E402


def test_a_finding_has_one_colour_under_every_spelling():
    assert plots.finding_color("Effusion") == plots.finding_color("Pleural Effusion")
    assert plots.finding_color("Nodule") != plots.finding_color("Mass")
    assert plots.finding_color("Something new") == plots.finding_color("Something new")


def test_training_curves_cut_an_outlier_first_epoch():
    h = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4],
            "train_loss": [40.0, 1.0, 0.9, 0.8],
            "val_loss": [30.0, 1.1, 1.0, 0.9],
            "val_auroc": [0.5, 0.6, 0.7, 0.75],
        }
    )
    fig = plots.training_curves({"run": h})
    loss_axis = fig.axes[0]
    assert loss_axis.get_ylim()[1] < 5 and "off the scale" in " ".join(t.get_text() for t in loss_axis.texts)
    calm = plots.training_curves({"run": h.assign(train_loss=[1.2, 1.0, 0.9, 0.8], val_loss=[1.3, 1.1, 1.0, 0.9])})
    assert not calm.axes[0].texts


def test_per_class_heatmap_labels_every_cell():
    table = pd.DataFrame([[0.5, 0.91], [0.75, 0.6]], index=["a", "b"], columns=["X", "Y"])
    fig = plots.per_class_heatmap(table, "AUROC", center=0.5)
    labels = sorted(t.get_text() for t in fig.axes[0].texts)
    assert labels == ["0.500", "0.600", "0.750", "0.910"]


def test_overlays_have_a_colour_bar_and_mark_flat_maps():
    images = torch.rand(2, 1, 32, 32)
    maps = np.zeros((2, 1, 4, 4))
    maps[1, 0, 1, 2] = 1.0  # image 0: flat map
    fig = plots.saliency_overlays(images, {"model": maps}, ["Nodule"], [0, 0])
    assert any(ax.get_ylabel() == "Grad-CAM (min-max normalised)" for ax in fig.axes)  # the colour bar
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("flat map" in t for t in texts) == 1


def test_reliability_diagram_draws_before_and_after_with_bin_counts():
    import matplotlib.pyplot as plt
    import pytest

    from cxrlib.metrics import reliability_curve

    r = np.random.default_rng(0)
    p = r.uniform(0, 1, 600)
    y = (r.uniform(0, 1, 600) < p).astype(float)
    before, after = reliability_curve(p**3, y), reliability_curve(p, y, binning="equal-mass")
    fig = plots.reliability_diagram({"before": before, "after": after}, title="TS")
    top, bottom = fig.axes
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels == [f"before (ECE {before.ece:.3f})", f"after (ECE {after.ece:.3f})"]
    assert len(bottom.patches) == 2 and bottom.get_ylabel() == "count"  # one stairs per curve
    grid = plots.reliability_diagram({f"class {k}": {"before": before, "after": after} for k in range(4)}, ncols=3)
    assert len(grid.axes) == 8 and [a.get_title() for a in grid.axes[::2]] == [f"class {k}" for k in range(4)]
    single = plots.reliability_diagram({f"class {k}": {"model": before} for k in range(2)})
    assert single.axes[0].get_title() == f"class 0\nmodel: ECE {before.ece:.3f}" and single.axes[0].get_legend() is None
    many = plots.reliability_diagram({"a": before, "b": after, "c": before})  # one panel, three curves
    assert many.axes[0].get_legend().get_bbox_to_anchor().x0 > many.axes[0].get_window_extent().x1  # beside it
    with pytest.raises(ValueError, match="no reliability curve"):
        plots.reliability_diagram({})
    with pytest.raises(ValueError, match="ReliabilityCurve"):
        plots.reliability_diagram({"a": {"b": 1.0}})
    plt.close("all")


def test_value_histograms_one_panel_per_key_and_empty_groups_left_out():
    import numpy as np

    from cxrlib import plots

    fig = plots.value_histograms(
        {
            "PA": {"outside": np.arange(10.0), "inside": np.array([])},
            "UP1": {"outside": np.ones(3), "inside": np.ones(2)},
        },
        "title",
    )
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["outside (10)"]
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["outside (3)", "inside (2)"]


def test_training_curves_keep_their_legend_off_the_panels():
    """18 legend entries over the curves hid them (02, 07, 08): one legend per run, below the panels."""
    h = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0, 0.9, 0.8], "val_loss": [1.1, 1.0, 0.9]})
    runs = {f"run {i}": h.assign(val_auroc=[0.5 + i / 100] * 3) for i in range(9)}
    fig = plots.training_curves(runs)
    fig.canvas.draw()
    assert not any(ax.get_legend() for ax in fig.axes)
    (legend,) = fig.legends
    assert len(legend.get_texts()) == 9  # one per run, not train and val apiece
    box = legend.get_window_extent()
    assert all(box.y1 <= ax.get_window_extent().y0 for ax in fig.axes)  # wholly below every panel


def test_deferral_sweep_keeps_its_legend_off_the_panels():
    """Its legends sat in two panels' lower right, over the curves that fall there at full coverage."""
    import numpy as np

    rows = [
        {"rule": rule, "cost": c, "coverage": c * 2, "kept accuracy": 0.9, "kept AUROC": 0.8, "system accuracy": 0.95}
        for rule in ("error model", "confidence")
        for c in np.linspace(0.05, 0.45, 5)
    ]
    fig = plots.deferral_sweep(pd.DataFrame(rows), references={"classifier alone": 0.88}, title="sweep")
    fig.canvas.draw()
    assert not any(ax.get_legend() for ax in fig.axes)
    (legend,) = fig.legends
    assert {t.get_text() for t in legend.get_texts()} == {"error model", "confidence", "classifier alone"}
    assert all(legend.get_window_extent().y1 <= ax.get_window_extent().y0 for ax in fig.axes)
