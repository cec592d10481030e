import numpy as np
import pytest
import torch

from cxrlib.data import SYNTH_CLASSES, open_dataset
from cxrlib.data.synthetic import render_synth_cxr


def test_contract_shapes_and_columns(synth):
    item = synth[0]
    K = len(synth.classes)
    assert synth.classes == SYNTH_CLASSES
    assert item["image"].shape == (1, 64, 64) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["labels"].shape == (K,)
    assert item["masks"].shape == (K, 64, 64) and item["masks"].dtype == torch.bool
    for col in ["image", "patient_id", "study_id", "view", "split", *synth.classes]:
        assert col in synth.table.columns
    assert list(synth.boxes.columns) == ["image", "class", "x", "y", "w", "h", "reader"]
    assert set(synth.table["view"]) <= {"PA", "AP"}


def test_deterministic_by_seed(cache_dir, tmp_path):
    a = open_dataset("synth-cxr", n=8, image_size=64, seed=11, progress=False, cache_dir=cache_dir)
    b = open_dataset("synth-cxr", n=8, image_size=64, seed=11, progress=False, cache_dir=tmp_path)  # rebuilt
    c = open_dataset("synth-cxr", n=8, image_size=64, seed=12, progress=False, cache_dir=tmp_path)
    assert torch.equal(a[5]["image"], b[5]["image"])
    assert not torch.equal(a[5]["image"], c[5]["image"])


def test_cache_is_reused(cache_dir):
    a = open_dataset("synth-cxr", n=8, image_size=64, seed=21, progress=False, cache_dir=cache_dir)
    b = open_dataset("synth-cxr", n=8, image_size=64, seed=21, progress=False, cache_dir=cache_dir)
    assert a.info["cache"] == b.info["cache"]
    assert isinstance(a._images, np.memmap) and a._images.dtype == np.uint8


def test_same_anatomy_at_every_size():
    from cxrlib.data.synthetic import SynthCXRConfig, _sample_parameters

    params = _sample_parameters(SynthCXRConfig(n=4, image_size=64, seed=5))
    small, m64, _, _ = render_synth_cxr(params, np.arange(4), 64, 5)
    big, m256, _, _ = render_synth_cxr(params, np.arange(4), 256, 5)
    pooled = torch.nn.functional.avg_pool2d(big[:, None], 4)[:, 0]
    assert np.corrcoef(pooled.flatten(), small.flatten())[0, 1] > 0.9
    # masks cover the same fraction of the image at both sizes
    assert np.allclose(m64.float().mean((2, 3)), m256.float().mean((2, 3)), atol=0.01)


def test_boxes_enclose_their_masks(synth):
    boxes = synth.boxes[synth.boxes["reader"] == "truth"]
    for i in range(12):
        item, key = synth[i], synth.table.loc[i, "image"]
        for k, c in enumerate(synth.classes):
            own = boxes[(boxes["image"] == key) & (boxes["class"] == c)]
            mask = item["masks"][k].numpy()
            assert (len(own) > 0) == bool(mask.any()), (key, c)
            if mask.any():
                ys, xs = np.nonzero(mask)
                assert own["x"].min() == xs.min() and own["y"].min() == ys.min()
                assert (own["x"] + own["w"]).max() == xs.max() + 1 and (own["y"] + own["h"]).max() == ys.max() + 1


def test_labels_follow_truth_masks_and_prevalence(cache_dir):
    ds = open_dataset("synth-cxr", n=600, image_size=64, seed=4, prevalence={"Nodule": 0.05, "Edema": 0.5},
                      classes=["Nodule", "Edema"], progress=False, cache_dir=cache_dir)
    truth = ds.info["truth"]
    assert abs(truth["Nodule"].mean() - 0.05) < 0.03 and abs(truth["Edema"].mean() - 0.5) < 0.06
    # no label noise / uncertainty asked: labels equal the truth, and a positive always has a mask
    assert np.array_equal(ds.labels, truth.to_numpy())
    for i in np.flatnonzero(truth["Nodule"].to_numpy())[:10]:
        assert ds[int(i)]["masks"][0].any()


def test_finding_sizes_span_nodules_to_heart(synth):
    areas = {c: [] for c in synth.classes}
    for i in range(len(synth)):
        m = synth[i]["masks"].float().mean((1, 2))
        for k, c in enumerate(synth.classes):
            if m[k] > 0:
                areas[c].append(float(m[k]))
    assert np.median(areas["Nodule"]) < 0.01
    assert np.median(areas["Cardiomegaly"]) > 0.06, np.median(areas["Cardiomegaly"])
    assert np.median(areas["Nodule"]) < np.median(areas["Mass"]) < np.median(areas["Cardiomegaly"])


def test_uncertain_and_noise_rates(cache_dir):
    ds = open_dataset("synth-cxr", n=400, image_size=64, seed=8, uncertain_rate=0.25, label_noise=0.1,
                      progress=False, cache_dir=cache_dir)
    raw = ds.info["raw_labels"].to_numpy()
    assert abs((raw == -1).mean() - 0.25) < 0.03
    known = raw != -1
    disagree = (raw[known] != ds.info["truth"].to_numpy()[known]).mean()
    assert abs(disagree - 0.1) < 0.03
    assert np.isnan(ds.labels).mean() == pytest.approx((raw == -1).mean())  # policy "ignore"


def test_shortcut_marker_agrees_at_rate(synth, cache_dir):
    ds = open_dataset("synth-cxr", n=500, image_size=64, seed=9, shortcut={"class_name": "Mass", "rate": 0.8},
                      progress=False, cache_dir=cache_dir)
    agree = (ds.table["shortcut_marker"].to_numpy() == ds.info["truth"]["Mass"].to_numpy().astype(bool)).mean()
    assert abs(agree - 0.8) < 0.05
    i = int(np.flatnonzero(ds.table["shortcut_marker"])[0])
    item = ds[i]
    assert item["marker_mask"].any() and item["marker_mask"][:20, -20:].any()  # top-right corner
    assert item["image"][0][item["marker_mask"]].max() > 0.9


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


def test_patients_have_several_studies_and_do_not_leak(synth):
    per_patient = synth.table.groupby("patient_id").size()
    assert (per_patient == 2).all()
    assert (synth.table.groupby("patient_id")["split"].nunique() == 1).all()


def test_small_cnn_cannot_reach_perfect_auroc(cache_dir):
    """The findings must be hard: a small CNN trained briefly stays well below AUROC 1."""
    from cxrlib.losses import WeightedBCELoss, positive_weights
    from cxrlib.metrics import per_class_auroc
    from cxrlib.models import build_model
    from cxrlib.train import TrainConfig, fit, predict

    ds = open_dataset("synth-cxr", n=900, image_size=64, seed=0, classes="chexpert5", prevalence=0.3,
                      progress=False, cache_dir=cache_dir)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    torch.manual_seed(0)
    model = build_model("small-cnn", 5)
    fit(model, train, val, WeightedBCELoss(positive_weights(train.labels)),
        TrainConfig(epochs=6, lr=2e-3, progress=False, stop_after_lr_reductions=None))
    pred = predict(model, test)
    auc = per_class_auroc(pred.probs, pred.labels, ds.classes)
    assert 0.65 < auc["mean"] < 0.97, auc
    assert (auc.drop("mean") < 0.99).all(), auc


@pytest.mark.parametrize("options, message", [
    ({"prevalence": 1.5}, "impossible prevalence"),
    ({"prevalence": -0.1}, "impossible prevalence"),
    ({"prevalence": {"Nodule": 2.0}}, "impossible prevalence"),
    ({"image_size": 0}, "image_size"),
    ({"image_size": 1024}, "image_size"),
    ({"n": 0}, "n must be"),
    ({"classes": ["Nodule", "Fracture"]}, "unknown class"),
    ({"classes": "chexpert14"}, "unknown class preset"),
    ({"label_policy": "maybe"}, "unknown uncertain-label policy"),
    ({"label_policy": {"Fracture": "ones"}}, "unknown classes"),
    ({"uncertain_rate": 2.0}, "uncertain_rate"),
    ({"shortcut": {"class_name": "Fracture"}}, "shortcut class"),
    ({"readers": {"n_readers": 0}}, "n_readers"),
    ({"prevalence": {"Fracture": 0.1}}, "unknown class"),
])
def test_bad_input_raises_clear_value_error(options, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        open_dataset("synth-cxr", **{"n": 30, "image_size": 64, "progress": False, "cache_dir": tmp_path, **options})


def test_unknown_dataset_and_root_errors():
    with pytest.raises(ValueError, match="unknown dataset 'chexpert-lite'"):
        open_dataset("chexpert-lite")
    with pytest.raises(ValueError, match="takes no root"):
        open_dataset("synth-cxr", root="/tmp")
