import numpy as np
import pandas as pd

from cxrlib.data.synthetic import ReaderSpec, SynthCXRConfig
from cxrlib.data.synthetic.readers import reader_tables


def test_readers(synth):
    reader_labels = synth.info["reader_labels"]
    assert sorted(reader_labels["reader"].unique()) == ["reader_0", "reader_1", "reader_2"]
    assert len(reader_labels) == 3 * len(synth)
    truth = synth.info["truth"]
    r0 = reader_labels[reader_labels["reader"] == "reader_0"].set_index("image").loc[truth.index, synth.classes]
    sens = (r0.to_numpy()[truth.to_numpy() == 1]).mean()
    spec = 1 - (r0.to_numpy()[truth.to_numpy() == 0]).mean()
    assert 0.6 < sens < 0.95 and spec > 0.88
    assert (synth.boxes["reader"] == "reader_1").sum() > 0


def test_perfect_readers_report_the_truth_and_its_boxes():
    cfg = SynthCXRConfig(
        n=3,
        image_size=64,
        classes=("Nodule", "Mass"),
        readers=ReaderSpec(n_readers=2, sensitivity=1.0, specificity=1.0, box_jitter=0.0),
    )
    truth = np.zeros((3, 9), bool)
    truth[1, 5] = True  # image 1 has a Nodule
    keys = ["a", "b", "c"]
    boxes = pd.DataFrame(
        {"image": ["b"], "class": ["Nodule"], "x": [10.0], "y": [12.0], "w": [4.0], "h": [5.0], "reader": ["truth"]}
    )
    labels, reader_boxes = reader_tables(cfg, truth, boxes, keys)
    assert list(labels.columns) == ["image", "reader", "Nodule", "Mass"] and len(labels) == 6
    assert labels["Nodule"].tolist() == [0, 0, 1, 1, 0, 0] and labels["Mass"].sum() == 0
    assert reader_boxes[["x", "y", "w", "h"]].to_numpy().tolist() == [[10, 12, 4, 5]] * 2
    assert sorted(reader_boxes["reader"]) == ["reader_0", "reader_1"]


def test_readers_as_truth_labels_and_boxes_follow_the_readers(synth):
    import pytest

    from cxrlib.data.synthetic import readers_as_truth

    said = synth.info["reader_labels"]
    votes = said.groupby("image")[synth.classes].sum().reindex(synth.table["image"])
    for rule, need in (("union", 1), ("majority", 2)):
        view = readers_as_truth(synth, rule)
        expected = (votes.to_numpy() >= need).astype(float)
        assert np.array_equal(view.table[synth.classes].to_numpy(), expected)  # no NaN: readers never say -1
        truth = view.truth_boxes()
        assert set(truth["reader"]) <= {"reader_0", "reader_1", "reader_2"} and len(truth) > 0
        positive = view.table.set_index("image")[synth.classes]
        assert all(positive.loc[i, c] == 1 for i, c in zip(truth["image"], truth["class"]))  # boxes only on positives
        # every reader box of a positive pair is kept, the others are counted as dropped
        readers_boxes = synth.boxes[synth.boxes["reader"] != "truth"]
        on_positive = [positive.loc[i, c] == 1 for i, c in zip(readers_boxes["image"], readers_boxes["class"])]
        assert len(truth) == sum(on_positive)
        assert view.info["boxes_dropped_by_label_rule"] == len(readers_boxes) - sum(on_positive)
        assert view.info["truth_readers"] == ["reader_0", "reader_1", "reader_2"] and view.info["label_rule"] == rule
    union = readers_as_truth(synth, "union")
    majority = readers_as_truth(synth, "majority")
    assert (union.labels >= majority.labels).all() and union.labels.sum() > majority.labels.sum()
    agreement = union.info["reader_agreement"]
    assert list(agreement.index) == synth.classes and agreement["sensitivity"].between(0, 1).all()
    assert len(union.subset("test").truth_boxes()) > 0  # a split keeps the readers' truth
    with pytest.raises(ValueError, match="unknown reader rule"):
        readers_as_truth(synth, "any")


def test_readers_as_truth_needs_readers(cache_dir):
    import pytest

    from cxrlib.data import open_dataset
    from cxrlib.data.synthetic import readers_as_truth

    plain = open_dataset("synth-cxr", n=8, image_size=64, progress=False)
    with pytest.raises(ValueError, match="no simulated readers"):
        readers_as_truth(plain)
