"""The NIH sample shipped in cxrlib/data/samples/nih (21 real NIH ChestX-ray14 images, NIH Clinical
Center data), and the rule that nothing users get reads ../shared."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxrlib.data import decode_image, nih_sample_root, open_dataset, open_nih_sample
from cxrlib.data.sources.nih import NIH_CLASSES

REPO = Path(__file__).resolve().parents[3]
TEST_NIH = REPO / "tests" / "data" / "nih"  # one 1024-px NIH original and the official split lists
ROOT = nih_sample_root()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return open_nih_sample(128, cache_dir=tmp_path_factory.mktemp("cache"))


def _entry() -> pd.DataFrame:
    return pd.read_csv(ROOT / "Data_Entry_2017_v2020.csv", dtype=str, index_col=False)


def _check_rows(ds, rows: pd.DataFrame) -> None:
    t = ds.table.set_index("image")
    assert set(rows["Image Index"]) == set(t.index)
    for _, row in rows.iterrows():
        name = row["Image Index"]
        found = set(row["Finding Labels"].split("|")) - {"No Finding"}
        assert {c for c in NIH_CLASSES if t.loc[name, c] == 1} == found, name
        assert t.loc[name, "view"] == row["View Position"]
        assert t.loc[name, "age"] == int(row["Patient Age"])
        assert t.loc[name, "patient_id"] == f"{int(row['Patient ID']):08d}"


def test_the_sample_is_package_data_in_nih_formats():
    assert ROOT.is_dir() and ROOT.parts[-4:] == ("cxrlib", "data", "samples", "nih")
    names = sorted(p.name for p in (ROOT / "images").iterdir())
    assert len(names) == 21 and all(re.fullmatch(r"\d{8}_\d{3}\.png", n) for n in names)
    lines = (ROOT / "Data_Entry_2017_v2020.csv").read_text().splitlines()
    assert lines[0] == (
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Sex,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
    )
    assert len(lines) == 22 and all(ln.endswith(",") and ln.count(",") == 11 and '"' not in ln for ln in lines[1:])
    assert sorted(ln.split(",")[0] for ln in lines[1:]) == names
    boxes = (ROOT / "BBox_List_2017.csv").read_text().splitlines()
    assert boxes[0] == "Image Index,Finding Label,Bbox [x,y,w,h],,," and all(b.count(",") == 5 for b in boxes[1:])
    test = (ROOT / "test_list.txt").read_text().split()
    train_val = (ROOT / "train_val_list.txt").read_text().split()
    assert sorted(test + train_val) == names and len(test) == 15 and len(train_val) == 6
    attribution = (ROOT / "ATTRIBUTION.md").read_text()
    for needed in ("https://nihcc.app.box.com/v/ChestXray-NIHCC", "CVPR 2017", "NIH Clinical Center", "512"):
        assert needed in attribution
    total = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    assert total < 5_000_000


def test_images_are_512_px_grey():
    for path in sorted((ROOT / "images").iterdir()):
        with Image.open(path) as img:
            assert img.mode == "L" and img.size == (512, 512), path.name
        image = decode_image(path)
        assert image.shape == (512, 512) and 0.0 <= image.min() < image.max() <= 1.0


def test_the_sample_opens_with_its_rows_boxes_and_splits(sample):
    assert len(sample) == 21 and sample.info["images_missing"] == 0
    _check_rows(sample, _entry())
    t = sample.table.set_index("image")
    test = set((ROOT / "test_list.txt").read_text().split())
    assert {i for i in t.index if t.loc[i, "split"] == "test"} == test
    assert t["split"].isin(["train", "val"]).sum() == 6
    assert len(sample.boxes) == 12 and sample.boxes["image"].nunique() == 12
    assert set(sample.boxes["class"]) == {"Atelectasis", "Cardiomegaly", "Infiltration", "Mass", "Nodule", "Pneumonia"}
    assert set(sample.boxes["image"]) <= test
    # NIH's 1024-px box coordinates, scaled to the 128-px array (the PNGs are square at any size)
    assert (t["original_height"] == 1024).all() and (t["original_width"] == 1024).all()
    truth = sample.truth_boxes()
    assert np.allclose(truth[["x", "y", "w", "h"]].to_numpy(), sample.boxes[["x", "y", "w", "h"]].to_numpy() / 8)
    assert sample[0]["image"].shape == (1, 128, 128)


def test_the_rows_are_the_real_metadata_rows():
    import torchxrayvision as txv  # a test dependency: it ships NIH's full Data_Entry table

    full = Path(txv.__file__).parent / "data" / "Data_Entry_2017_v2020.csv.gz"
    ours = _entry()
    real = pd.read_csv(full, dtype=str).rename(columns={"Patient Gender": "Patient Sex"})
    real = real[real["Image Index"].isin(set(ours["Image Index"]))].reset_index(drop=True)
    assert len(real) == 21
    assert ours[list(real.columns)].equals(real)
    ds = open_nih_sample(load_images=False)
    _check_rows(ds, real)


def original_root(tmp_path: Path) -> Path:
    """An NIH folder holding the one 1024-px original of tests/data/nih with its rows of the sample."""
    name = "00001369_000.png"
    (tmp_path / "images").mkdir(parents=True)
    (tmp_path / "images" / name).symlink_to(TEST_NIH / "images" / name)
    entry = (nih_sample_root() / "Data_Entry_2017_v2020.csv").read_text().splitlines()
    (tmp_path / "Data_Entry_2017_v2020.csv").write_text(
        "\n".join([entry[0], *[r for r in entry if r.startswith(name)]])
    )
    boxes = (nih_sample_root() / "BBox_List_2017.csv").read_text().splitlines()
    (tmp_path / "BBox_List_2017.csv").write_text("\n".join([boxes[0], *[r for r in boxes if r.startswith(name)]]))
    (tmp_path / "test_list.txt").write_text(name + "\n")
    (tmp_path / "train_val_list.txt").write_text("")
    return tmp_path


def test_the_sample_matches_the_original_image(sample, tmp_path):
    original = open_dataset(
        "nih", root=original_root(tmp_path / "nih"), image_size=128, cache_dir=tmp_path, progress=False
    )
    name = original.table["image"].iloc[0]
    i = int(np.flatnonzero(sample.table["image"] == name)[0])
    ours, theirs = sample[i]["image"][0].numpy(), original[0]["image"][0].numpy()
    assert np.abs(ours - theirs).mean() < 1 / 255 and np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.999
    a, b = sample.truth_boxes(), original.truth_boxes()
    a = a[a["image"] == name].reset_index(drop=True)
    assert len(a) == len(b) > 0 and np.allclose(a[["x", "y", "w", "h"]], b[["x", "y", "w", "h"]])


_READS_SHARED = re.compile(r"""shared/|(\.\./|/)shared\b|["']shared["']""")


def test_nothing_users_get_reads_shared():
    offenders = []
    for folder in ("cxrlib", "notebooks", "book"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix in (".py", ".ipynb", ".md", ".yml") and path.is_file() and "_build" not in path.parts:
                for k, text in enumerate(path.read_text(errors="replace").splitlines(), 1):
                    if _READS_SHARED.search(text):
                        offenders.append(f"{path.relative_to(REPO)}:{k}: {text.strip()[:100]}")
    why = "these read ../shared, which users who clone the repository do not have:\n"
    assert not offenders, why + "\n".join(offenders)
