import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cxrlib.data import CMR_CLASSES, open_dataset
from cxrlib.data.synthetic_cmr import MALE_FRACTION, MARKER_BOX, SynthCMRConfig, render_synth_cmr, sample_parameters


@pytest.fixture(scope="module")
def cmr_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("synth-cmr-cache")


def _open(cache, **options):
    return open_dataset("synth-cmr", progress=False, cache_dir=cache, **options)


@pytest.fixture(scope="module")
def small(cmr_cache):
    return _open(cmr_cache, n=64, image_size=64, seed=3, male_marker=True)


@pytest.fixture(scope="module")
def large(cmr_cache):
    return _open(cmr_cache, n=2000, image_size=48, seed=5)


@pytest.fixture(scope="module")
def large_same_size(cmr_cache):
    return _open(cmr_cache, n=2000, image_size=48, seed=5, size_difference=False)


def _heart_areas(ds) -> np.ndarray:
    return np.array([ds[i]["heart_mask"].sum().item() for i in range(len(ds))], dtype=float)


def test_contract_items_table_boxes_info(small):
    K, S = 4, 64
    assert small.classes == CMR_CLASSES == ["Normal", "HCM", "DCM", "ARV"]
    item = small[0]
    assert item["image"].shape == (1, S, S) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["labels"].shape == (K,) and item["masks"].shape == (K, S, S) and item["masks"].dtype == torch.bool
    assert item["heart_mask"].shape == (S, S) and item["heart_mask"].dtype == torch.bool
    assert item["marker_mask"].shape == (S, S) and item["marker_mask"].dtype == torch.bool
    table = small.table
    for col in ["image", "patient_id", "study_id", "view", "split", *CMR_CLASSES, "sex"]:
        assert col in table.columns
    assert set(table["view"]) == {"SAX"} and set(table["sex"]) <= {"M", "F"}
    labels = small.labels
    assert not np.isnan(labels).any() and set(np.unique(labels)) == {0.0, 1.0} and (labels.sum(1) == 1).all()
    assert set(table["split"]) == {"train", "val", "test"}
    assert table.groupby("patient_id")["split"].nunique().max() == 1
    assert list(small.boxes.columns) == ["image", "class", "x", "y", "w", "h", "reader"]
    for key in ("config", "sex_counts", "male_fraction", "parameters", "cache", "options_without_effect"):
        assert key in small.info
    assert isinstance(small.info["config"], SynthCMRConfig)
    counts = small.info["sex_counts"]
    for c in CMR_CLASSES:
        in_class = table[c] == 1
        assert counts[c] == {
            "M": int((in_class & (table["sex"] == "M")).sum()),
            "F": int((in_class & (table["sex"] == "F")).sum()),
        }


def test_deterministic_by_seed(cmr_cache, tmp_path):
    a = _open(cmr_cache, n=16, image_size=32, seed=11)
    b = _open(tmp_path / "other", n=16, image_size=32, seed=11)  # rebuilt from scratch
    c = _open(tmp_path / "other", n=16, image_size=32, seed=12)
    assert a.info["cache"] != b.info["cache"]
    for i in (0, 7, 15):
        for key in ("image", "masks", "heart_mask", "marker_mask"):
            assert torch.equal(a[i][key], b[i][key])
    assert a.table.equals(b.table) and a.boxes.equals(b.boxes)
    assert not torch.equal(a[5]["image"], c[5]["image"])
    assert not a.table.equals(c.table) or not torch.equal(a[0]["heart_mask"], c[0]["heart_mask"])


def test_cache_is_reused(small, cmr_cache):
    again = _open(cmr_cache, n=64, image_size=64, seed=3, male_marker=True)
    assert again.info["cache"] == small.info["cache"]


def test_render_does_not_depend_on_the_batch():
    params = sample_parameters(SynthCMRConfig(n=12, image_size=32, seed=4))
    whole, heart, marker = render_synth_cmr(params, np.arange(12), 32, 4)
    part, heart_part, _ = render_synth_cmr(params, np.array([3, 8]), 32, 4)
    assert torch.equal(whole[[3, 8]], part) and torch.equal(heart[[3, 8]], heart_part)


def test_classes_are_balanced(large):
    shares = large.labels.mean(0)
    assert np.allclose(shares, 0.25, atol=0.01)
    for split in ("train", "val", "test"):  # random order: every split holds every class
        assert (large.subset(split).labels.sum(0) > 0).all()


def test_heart_mask_in_class_channel_only(small):
    for i in range(len(small)):
        item = small[i]
        k = int(item["labels"].argmax())
        assert item["heart_mask"].any()
        assert torch.equal(item["masks"][k], item["heart_mask"])
        others = [j for j in range(len(small.classes)) if j != k]
        assert not item["masks"][others].any()


def test_boxes_are_the_heart_bounding_boxes(small):
    boxes = small.truth_boxes()
    assert len(boxes) == len(small) and set(boxes["reader"]) == {"truth"}
    boxes = boxes.set_index("image")
    for i in range(0, len(small), 7):
        row = small.table.iloc[i]
        box = boxes.loc[row["image"]]
        assert box["class"] == small.classes[int(small[i]["labels"].argmax())]
        ys, xs = np.nonzero(small[i]["heart_mask"].numpy())
        assert (box["x"], box["y"], box["w"], box["h"]) == (xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1)


def test_marker_only_on_male_images_bottom_right_and_bright(small, large):
    male = (small.table["sex"] == "M").to_numpy()
    assert 0 < male.sum() < len(small)
    assert (small.table["shortcut_marker"].to_numpy() == male).all()
    S = small.image_size[0]
    u0, v0, _, _ = MARKER_BOX
    for i in range(len(small)):
        item = small[i]
        marker = item["marker_mask"].numpy()
        assert marker.any() == male[i]
        if male[i]:
            ys, xs = np.nonzero(marker)
            assert ys.min() >= (v0 + 1) / 2 * S - 1 and xs.min() >= (u0 + 1) / 2 * S - 1  # bottom-right corner
            assert float(item["image"][0][marker].min()) > 0.9  # bright
            assert not (marker & item["heart_mask"].numpy()).any()
    assert not any(large[i]["marker_mask"].any() for i in range(0, len(large), 50))  # male_marker=False


def test_sex_prevalence_per_class(large):
    counts = large.info["sex_counts"]
    assert counts["ARV"]["M"] / counts["ARV"]["F"] == pytest.approx(2.7, abs=0.1)
    for c, fraction in MALE_FRACTION.items():
        total = counts[c]["M"] + counts[c]["F"]
        assert counts[c]["M"] / total == pytest.approx(fraction, abs=0.01)
    assert MALE_FRACTION["ARV"] == pytest.approx(2.7 / 3.7)


def test_size_difference_makes_male_hearts_larger(large, large_same_size):
    male = (large.table["sex"] == "M").to_numpy()
    assert (large_same_size.table["sex"] == large.table["sex"]).all()  # the same patients
    ratio_with = _heart_areas(large)[male].mean() / _heart_areas(large)[~male].mean()
    areas = _heart_areas(large_same_size)
    ratio_without = areas[male].mean() / areas[~male].mean()
    assert ratio_with > 1.1
    assert ratio_without == pytest.approx(1.0, abs=0.05)
    for c in CMR_CLASSES:  # within each class too (no confounding by the class mix)
        in_class = (large_same_size.table[c] == 1).to_numpy()
        assert areas[in_class & male].mean() / areas[in_class & ~male].mean() == pytest.approx(1.0, abs=0.06)


def test_class_geometry(large):
    params = large.info["parameters"].groupby("class").mean(numeric_only=True)
    normal = params.loc["Normal"]
    assert params.loc["HCM", "lv_wall"] > 1.5 * normal["lv_wall"]
    assert params.loc["HCM", "lv_cavity"] < 0.85 * normal["lv_cavity"]
    assert params.loc["DCM", "lv_cavity"] > 1.4 * normal["lv_cavity"]
    assert params.loc["DCM", "lv_wall"] < normal["lv_wall"]
    assert params.loc["ARV", "rv_scale"] > 1.4 * normal["rv_scale"]
    assert params.loc["ARV", "rv_wobble"] > 3 * normal["rv_wobble"]
    # measured from the masks: dilated LV and enlarged RV make larger hearts than normal
    areas = _heart_areas(large)
    mean_area = {c: areas[(large.table[c] == 1).to_numpy()].mean() for c in CMR_CLASSES}
    assert mean_area["DCM"] > 1.3 * mean_area["Normal"] and mean_area["ARV"] > 1.2 * mean_area["Normal"]


def test_class_subset(cmr_cache):
    ds = _open(cmr_cache, n=40, image_size=32, classes=["ARV", "Normal"])
    assert ds.classes == ["ARV", "Normal"]
    assert ds[0]["masks"].shape == (2, 32, 32)
    assert (ds.labels.sum(0) == 20).all()
    assert set(ds.boxes["class"]) == {"ARV", "Normal"}
    assert ds.info["sex_counts"]["ARV"] == {"M": 15, "F": 5}
    assert _open(cmr_cache, n=40, image_size=32, classes="all").classes == CMR_CLASSES


def test_common_reader_options_accepted(cmr_cache):
    ds = _open(cmr_cache, n=16, image_size=32, label_policy="ignore", views=["SAX"], on_bad="skip")
    assert {"label_policy", "views", "on_bad"} <= set(ds.info["options_without_effect"])
    assert _open(cmr_cache, n=16, image_size=32).info["options_without_effect"] == {}


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"n": 4}, "n must"),
        ({"image_size": 8}, "image_size"),
        ({"classes": ["Normal", "Cardiomegaly"]}, "classes"),
        ({"classes": "chexpert5"}, "classes"),
        ({"classes": []}, "classes"),
        ({"split_fractions": {"train": 0.5, "val": 0.2, "test": 0.2}}, "split_fractions"),
        ({"size_difference": "yes"}, "size_difference"),
        ({"male_marker": 1}, "male_marker"),
        ({"views": ["PA"]}, "views"),
        ({"label_policy": "not-a-policy"}, "policy"),
        ({"on_bad": "ignore"}, "on_bad"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_options_raise(cmr_cache, options, named):
    with pytest.raises(ValueError, match=named):
        _open(cmr_cache, **{"n": 16, "image_size": 32, **options})


def test_takes_no_root():
    with pytest.raises(ValueError, match="takes no root"):
        open_dataset("synth-cmr", root="/tmp", n=16)


def test_small_cnn_learns_it(cmr_cache):
    from cxrlib.models import build_model
    from cxrlib.train import TrainConfig, fit, predict

    ds = _open(cmr_cache, n=860, image_size=64, seed=0)  # about 600 training images
    train, val = ds.subset("train"), ds.subset("val")
    model = build_model("small-cnn", 4)
    loss = lambda out, batch: F.cross_entropy(out.logits, batch["labels"].argmax(1))  # noqa: E731
    config = TrainConfig(epochs=5, lr=1e-3, batch_size=16, device="cpu", progress=False, stop_after_lr_reductions=None)
    fit(model, train, val, loss, config)
    pred = predict(model, ds.subset(["val", "test"]), device="cpu")  # 258 images: less sampling noise
    accuracy = (pred.logits.argmax(1) == pred.labels.argmax(1)).mean()
    assert accuracy >= 0.85  # typically 0.93-0.98
