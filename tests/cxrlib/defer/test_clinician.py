import numpy as np
import pytest
import torch

from cxrlib.defer import reader_clinician, simulated_clinician, with_clinician


def test_reader_clinician_follows_the_readers_table(synth):
    part = synth.take(np.arange(10, 30))
    got = reader_clinician(part, "reader_1")
    table = synth.info["reader_labels"]
    expected = table[table["reader"] == "reader_1"].set_index("image").loc[part.table["image"], part.classes]
    np.testing.assert_array_equal(got, expected.to_numpy())
    assert got.shape == (20, len(synth.classes)) and np.isin(got, (0, 1)).all()


def test_a_dataset_without_readers_has_no_clinician(synth):
    part = synth.take(np.arange(5))
    part.info = {k: v for k, v in part.info.items() if k != "reader_labels"}
    with pytest.raises(ValueError, match="no simulated readers"):
        reader_clinician(part)
    with pytest.raises(ValueError, match="no reader 'reader_9'"):
        reader_clinician(synth, "reader_9")


def test_simulated_clinician_has_the_asked_sensitivity_and_specificity():
    rng = np.random.default_rng(0)
    labels = (rng.random((20000, 2)) < 0.3).astype(float)
    labels[:10, 0] = np.nan
    said = simulated_clinician(labels, {"a": 0.9, "b": 0.6}, 0.8, seed=1, classes=["a", "b"])
    assert np.isnan(said[:10, 0]).all() and not np.isnan(said[10:]).any()
    for k, sens in enumerate((0.9, 0.6)):
        y, m = labels[10:, k], said[10:, k]
        assert abs(m[y == 1].mean() - sens) < 0.02
        assert abs(1 - m[y == 0].mean() - 0.8) < 0.02


def test_changing_one_class_leaves_the_others_alone():
    labels = (np.random.default_rng(1).random((500, 3)) < 0.5).astype(float)
    a = simulated_clinician(labels, 0.9, 0.9, seed=2)
    b = simulated_clinician(labels, [0.9, 0.5, 0.9], [0.9, 0.5, 0.9], seed=2)
    np.testing.assert_array_equal(a[:, [0, 2]], b[:, [0, 2]])
    assert (a[:, 1] != b[:, 1]).any()


def test_bad_clinician_parameters():
    labels = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        simulated_clinician(labels, 1.2, 0.9)
    with pytest.raises(ValueError, match="unknown class"):
        simulated_clinician(labels, {"z": 0.9}, 0.9, classes=["a", "b"])
    with pytest.raises(ValueError, match="2 values for 3 classes|3 classes"):
        simulated_clinician(np.zeros((4, 3)), [0.9, 0.9], 0.9)


def test_with_clinician_adds_the_answers_to_each_item(synth):
    part = synth.take(np.arange(4))
    answers = np.arange(4 * len(synth.classes), dtype=float).reshape(4, -1) % 2
    data = with_clinician(part, answers)
    item = data[2]
    assert torch.equal(item["clinician"], torch.tensor(answers[2], dtype=torch.float32))
    assert torch.equal(item["image"], part[2]["image"]) and len(data) == 4
    with pytest.raises(ValueError, match="do not match"):
        with_clinician(part, answers[:3])
