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
