import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cxrlib.data import SYNTH_CLASSES, open_dataset
from cxrlib.data.synthetic import SynthCXRConfig, sample_parameters
from cxrlib.data.synthetic import dataset as synth_dataset

ONE_SIDED = ["Atelectasis", "Consolidation", "Nodule", "Mass", "Pneumothorax", "Infiltration"]


def test_contract_shapes_and_columns(synth):
    item = synth[0]
    K = len(synth.classes)
    assert synth.classes == SYNTH_CLASSES
    assert item["image"].shape == (1, 64, 64) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["labels"].shape == (K,)
    assert item["masks"].shape == (K, 64, 64) and item["masks"].dtype == torch.bool
    assert item["marker_mask"].shape == (64, 64) and item["marker_mask"].dtype == torch.bool
    for col in [
        "image",
        "patient_id",
        "study_id",
        "view",
        "split",
        "shortcut_marker",
        "original_height",
        "original_width",
        *synth.classes,
    ]:
        assert col in synth.table.columns
    assert list(synth.boxes.columns) == ["image", "class", "x", "y", "w", "h", "reader"]
    assert set(synth.table["view"]) <= {"PA", "AP"}
    for key in ("truth", "raw_labels", "severity", "reader_labels", "hidden_findings", "redrawn_findings"):
        assert key in synth.info
    assert synth.info["hidden_findings"] == 0


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


def test_cache_dir_is_honoured(cache_dir, tmp_path):
    folder = tmp_path / "elsewhere"
    ds = open_dataset("synth-cxr", n=8, image_size=64, seed=22, progress=False, cache_dir=folder)
    assert Path(ds.info["cache"]).parent == folder / "synth-cxr"
    assert (Path(ds.info["cache"]) / "images.npy").exists()


def test_cache_key_follows_the_generator_source(tmp_path, monkeypatch):
    cfg = SynthCXRConfig(n=8, image_size=64, seed=23)
    spec = synth_dataset.cache_spec(cfg)
    assert spec["source"] == synth_dataset.source_hash() and "synth-cxr/" not in json.dumps(spec, default=str)
    a = open_dataset("synth-cxr", n=8, image_size=64, seed=23, progress=False, cache_dir=tmp_path)
    monkeypatch.setattr(synth_dataset, "source_hash", lambda: "a-changed-generator")
    b = open_dataset("synth-cxr", n=8, image_size=64, seed=23, progress=False, cache_dir=tmp_path)
    assert a.info["cache"] != b.info["cache"]


def test_source_hash_reads_the_package_modules(monkeypatch):
    before = synth_dataset.source_hash()
    real = Path.read_bytes
    monkeypatch.setattr(
        Path, "read_bytes", lambda self: real(self) + (b"# edited" if self.name == "findings.py" else b"")
    )
    assert synth_dataset.source_hash() != before


@pytest.mark.parametrize("prevalence", [0.8, 0.25])
def test_requested_prevalence_is_met(cache_dir, prevalence):
    n = 400
    ds = open_dataset(
        "synth-cxr", n=n, image_size=64, seed=5, prevalence=prevalence, progress=False, cache_dir=cache_dir
    )
    truth = ds.info["truth"]
    assert ds.info["hidden_findings"] == 0 and ds.info["redrawn_findings"] > 0
    # every drawn label is realised: the truth is exactly the Bernoulli(prevalence) draw
    drawn = sample_parameters(ds.info["config"])["truth"]
    assert np.array_equal(truth.to_numpy().astype(bool), drawn)
    tolerance = 3 * np.sqrt(prevalence * (1 - prevalence) / n)
    assert (abs(truth.mean() - prevalence) < tolerance).all(), truth.mean()
    masks = np.stack([ds[i]["masks"].numpy().any((1, 2)) for i in range(n)])
    assert np.array_equal(masks, truth.to_numpy().astype(bool))  # a positive always has a mask


@pytest.mark.parametrize(
    "options, left, bilateral", [({}, 0.5, 1 / 3), ({"left_fraction": 0.2, "bilateral_fraction": 0.6}, 0.2, 0.6)]
)
def test_laterality_follows_the_stated_fractions(cache_dir, options, left, bilateral):
    n, size = 400, 64
    ds = open_dataset(
        "synth-cxr",
        n=n,
        image_size=size,
        seed=7,
        classes=[*ONE_SIDED, "Pleural Effusion"],
        prevalence=0.5,
        progress=False,
        cache_dir=cache_dir,
        **options,
    )
    boxes = ds.boxes[ds.boxes["reader"] == "truth"]
    one_sided = boxes[boxes["class"].isin(ONE_SIDED)]
    assert one_sided.groupby(["image", "class"]).size().max() == 1  # one lesion, in one lung
    # the patient's left lung is on the image's right
    in_left = (one_sided["x"] + one_sided["w"] / 2 > size / 2).to_numpy()
    assert abs(in_left.mean() - left) < 3 * np.sqrt(left * (1 - left) / len(in_left)) + 0.005, in_left.mean()
    per_image = boxes[boxes["class"] == "Pleural Effusion"].groupby("image")
    sides = per_image.size()
    assert len(sides) == int(ds.info["truth"]["Pleural Effusion"].sum())
    both = (sides == 2).to_numpy()
    assert abs(both.mean() - bilateral) < 3 * np.sqrt(bilateral * (1 - bilateral) / len(both)) + 0.005, both.mean()
    single = per_image.filter(lambda g: len(g) == 1)
    single_left = (single["x"] + single["w"] / 2 > size / 2).to_numpy()
    assert abs(single_left.mean() - left) < 3 * np.sqrt(left * (1 - left) / len(single_left)) + 0.005


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
    ds = open_dataset(
        "synth-cxr",
        n=600,
        image_size=64,
        seed=4,
        prevalence={"Nodule": 0.05, "Edema": 0.5},
        classes=["Nodule", "Edema"],
        progress=False,
        cache_dir=cache_dir,
    )
    truth = ds.info["truth"]
    assert abs(truth["Nodule"].mean() - 0.05) < 0.03 and abs(truth["Edema"].mean() - 0.5) < 0.06
    # no label noise / uncertainty asked: labels equal the truth, and a positive always has a mask
    assert np.array_equal(ds.labels, truth.to_numpy())
    for i in np.flatnonzero(truth["Nodule"].to_numpy())[:10]:
        assert ds[int(i)]["masks"][0].any()
    severity = ds.info["severity"].to_numpy()
    assert ((severity > 0) == (truth.to_numpy() == 1)).all() and severity.max() <= 1


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
    ds = open_dataset(
        "synth-cxr",
        n=400,
        image_size=64,
        seed=8,
        uncertain_rate=0.25,
        label_noise=0.1,
        progress=False,
        cache_dir=cache_dir,
    )
    raw = ds.info["raw_labels"].to_numpy()
    assert abs((raw == -1).mean() - 0.25) < 0.03
    known = raw != -1
    disagree = (raw[known] != ds.info["truth"].to_numpy()[known]).mean()
    assert abs(disagree - 0.1) < 0.03
    assert np.isnan(ds.labels).mean() == pytest.approx((raw == -1).mean())  # policy "ignore"


def test_shortcut_marker_agrees_at_rate(cache_dir):
    ds = open_dataset(
        "synth-cxr",
        n=500,
        image_size=64,
        seed=9,
        shortcut={"class_name": "Mass", "rate": 0.8},
        progress=False,
        cache_dir=cache_dir,
    )
    agree = (ds.table["shortcut_marker"].to_numpy() == ds.info["truth"]["Mass"].to_numpy().astype(bool)).mean()
    assert abs(agree - 0.8) < 0.05
    i = int(np.flatnonzero(ds.table["shortcut_marker"])[0])
    item = ds[i]
    assert item["marker_mask"].any() and item["marker_mask"][:20, -20:].any()  # top-right corner
    assert item["image"][0][item["marker_mask"]].max() > 0.9
    thorax = item["thorax_mask"]
    assert thorax.shape == (64, 64) and 0.15 < thorax.float().mean() < 0.6
    assert not (thorax & item["marker_mask"]).any()  # the allowed region of a heatmap loss excludes the marker
    for j in range(len(ds)):  # every finding lies (mostly) in the thorax
        masks = ds[j]["masks"]
        if masks.any():
            inside = (masks & ds[j]["thorax_mask"]).sum() / masks.sum()
            assert inside > 0.6, ds.table.loc[j, "image"]
            break


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

    ds = open_dataset(
        "synth-cxr",
        n=900,
        image_size=64,
        seed=0,
        classes="chexpert5",
        prevalence=0.3,
        progress=False,
        cache_dir=cache_dir,
    )
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    torch.manual_seed(0)
    model = build_model("small-cnn", 5)
    fit(
        model,
        train,
        val,
        WeightedBCELoss(positive_weights(train.labels)),
        TrainConfig(epochs=6, lr=2e-3, progress=False, stop_after_lr_reductions=None),
    )
    pred = predict(model, test)
    auc = per_class_auroc(pred.probs, pred.labels, ds.classes)
    assert 0.65 < auc["mean"] < 0.97, auc
    assert (auc.drop("mean") < 0.99).all(), auc
