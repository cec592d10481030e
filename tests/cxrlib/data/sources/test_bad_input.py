"""The bad-input matrix: each case gives a clear error naming the file (and line), or a counted,
reported skip where ``on_bad="skip"`` is asked for."""

import gzip

import pytest

from cxrlib.data import ImageDecodeError, PatientLeakageError, open_dataset


def _replace(path, old, new):
    path.write_text(path.read_text().replace(old, new))


def _replace_gz(path, old, new):
    with gzip.open(path, "rt") as f:
        text = f.read().replace(old, new)
    with gzip.open(path, "wt") as f:
        f.write(text)


def test_missing_metadata_file(nih_root):
    (nih_root / "Data_Entry_2017_v2020.csv").unlink()
    with pytest.raises(FileNotFoundError, match="Data_Entry"):
        open_dataset("nih", root=nih_root, load_images=False)


def test_missing_root():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_dataset("nih", root="/nonexistent/nih")
    with pytest.raises(ValueError, match="needs root="):
        open_dataset("chexpert")


def test_missing_image_file(vindr_root):
    (vindr_root / "train" / f"{0xB:032x}.dicom").unlink()
    with pytest.raises(FileNotFoundError, match=f"{0xB:032x}"):
        open_dataset("vindr", root=vindr_root, progress=False)
    ds = open_dataset("vindr", root=vindr_root, on_bad="skip", progress=False)
    assert ds.info["skipped"]["counts"] == {"image file not found": 1}
    assert f"{0xB:032x}" not in set(ds.table["image"])


def test_truncated_image(nih_root, tmp_path):
    path = nih_root / "images" / "00000003_000.png"
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ImageDecodeError, match="00000003_000.png"):
        open_dataset("nih", root=nih_root, cache_dir=tmp_path, progress=False)
    ds = open_dataset("nih", root=nih_root, cache_dir=tmp_path / "b", on_bad="skip", progress=False)
    assert list(ds.info["skipped"]["counts"].values()) == [1] and "00000003_000.png" not in set(ds.table["image"])
    assert "00000003_000.png" not in set(ds.boxes["image"])


def test_unreadable_dicom(vindr_root, tmp_path):
    (vindr_root / "train" / f"{0xA:032x}.dicom").write_bytes(b"DICM" + b"\x00" * 50)
    with pytest.raises(ImageDecodeError, match=f"cannot decode image .*{0xA:032x}.dicom"):
        open_dataset("vindr", root=vindr_root, cache_dir=tmp_path, progress=False)


def test_wrong_column(chexpert_root):
    _replace(chexpert_root / "CheXpert-v1.0-small" / "train.csv", "Pleural Effusion", "Pleural Effusions")
    with pytest.raises(ValueError, match=r"train.csv: missing column\(s\) \['Pleural Effusion'\]"):
        open_dataset("chexpert", root=chexpert_root, load_images=False)


def test_missing_column_mimic(mimic_root):
    _replace_gz(mimic_root / "mimic-cxr-2.0.0-metadata.csv.gz", "ViewPosition", "View")
    with pytest.raises(ValueError, match=r"metadata.csv.gz: missing column\(s\) \['ViewPosition'\]"):
        open_dataset("mimic", root=mimic_root, load_images=False)


def test_unknown_label_value_chexpert(chexpert_root):
    _replace(
        chexpert_root / "CheXpert-v1.0-small" / "train.csv", "Male,41,Frontal,PA,,,1.0,", "Male,41,Frontal,PA,,,2.0,"
    )
    with pytest.raises(ValueError, match=r"train.csv: line 5, column 'Cardiomegaly': unknown label value '2.0'"):
        open_dataset("chexpert", root=chexpert_root, load_images=False)


def test_unknown_label_value_nih(nih_root):
    _replace(nih_root / "Data_Entry_2017_v2020.csv", "Mass|Atelectasis", "Mass|Atelectasia")
    with pytest.raises(
        ValueError, match=r"Data_Entry_2017_v2020.csv, line 5: unknown label value\(s\) \['Atelectasia'\]"
    ):
        open_dataset("nih", root=nih_root, load_images=False)
    ds = open_dataset("nih", root=nih_root, load_images=False, on_bad="skip")
    assert "00000003_000.png" not in set(ds.table["image"]) and sum(ds.info["skipped"]["counts"].values()) >= 1


def test_unknown_label_value_mura(mura_root):
    _replace(mura_root / "MURA-v1.1" / "train_labeled_studies.csv", "study1_negative/,0", "study1_negative/,x")
    with pytest.raises(ValueError, match=r"train_labeled_studies.csv, line \d+: unknown label value 'x'"):
        open_dataset("mura", root=mura_root, load_images=False)


def test_unknown_class_vindr(vindr_root):
    _replace(vindr_root / "train.csv", "Aortic enlargement,0", "Aortic enlargment,0")
    with pytest.raises(
        ValueError, match=r"train.csv, line 11: unknown label: class_id 0 with class_name 'Aortic enlargment'"
    ):
        open_dataset("vindr", root=vindr_root, load_images=False)


def test_box_outside_image(nih_root):
    _replace(nih_root / "BBox_List_2017.csv", "512.0,512.0,256.0,128.0", "900.0,512.0,256.0,128.0")
    with pytest.raises(ValueError, match=r"BBox_List_2017.csv, line 4: box .* outside the 1024-px image"):
        open_dataset("nih", root=nih_root, load_images=False)
    ds = open_dataset("nih", root=nih_root, load_images=False, on_bad="skip")
    assert "Infiltration" not in set(ds.boxes["class"])
    assert any("outside" in k for k in ds.info["skipped"]["counts"])


def test_zero_area_box(vindr_root):
    _replace(vindr_root / "train.csv", "R9,2.0,2.0,4.0,5.0", "R9,2.0,2.0,2.0,5.0")
    with pytest.raises(ValueError, match=r"train.csv, line 7: zero-area or inverted box"):
        open_dataset("vindr", root=vindr_root, load_images=False)


def test_vindr_box_past_the_decoded_image(vindr_root, tmp_path):
    _replace(vindr_root / "train.csv", "R1,1.0,1.0,9.0,9.0", "R1,1.0,1.0,90.0,9.0")
    with pytest.raises(ValueError, match="extend past their image"):
        open_dataset("vindr", root=vindr_root, cache_dir=tmp_path, progress=False)


def test_duplicate_rows(vindr_root, mimic_root, nih_root):
    _replace(
        vindr_root / "train.csv",
        "R9,2.0,2.0,4.0,5.0\n",
        "R9,2.0,2.0,4.0,5.0\n" + f"{0xB:032x},Nodule/Mass,8,R9,2.0,2.0,4.0,5.0\n",
    )
    with pytest.raises(ValueError, match=r"train.csv, line 8: duplicate row"):
        open_dataset("vindr", root=vindr_root, load_images=False)
    text = (nih_root / "Data_Entry_2017_v2020.csv").read_text()
    (nih_root / "Data_Entry_2017_v2020.csv").write_text(text + text.splitlines()[2] + "\n")
    with pytest.raises(ValueError, match="duplicate row for image 00000001_001.png"):
        open_dataset("nih", root=nih_root, load_images=False)


def test_empty_split_and_empty_filter(chexpert_root, nih_root):
    ds = open_dataset("chexpert", root=chexpert_root, load_images=False)
    with pytest.raises(ValueError, match=r"split \['holdout'\] is empty"):
        ds.subset("holdout")
    with pytest.raises(ValueError, match="keeps no image"):
        open_dataset("nih", root=nih_root, views=["LL"], load_images=False)


def test_patient_in_two_official_splits(nih_root):
    lists = nih_root / "train_val_list.txt"
    lists.write_text(lists.read_text().replace("00000001_001.png\n", ""))
    (nih_root / "test_list.txt").write_text("00000001_001.png\n00000003_000.png\n00000004_000.png\n")
    with pytest.raises(PatientLeakageError, match="00000001"):
        open_dataset("nih", root=nih_root, load_images=False)


def test_impossible_age_and_non_integer_id(nih_root):
    _replace(
        nih_root / "Data_Entry_2017_v2020.csv", "Cardiomegaly|Emphysema,1,1,58,", "Cardiomegaly|Emphysema,1,1,412,"
    )
    with pytest.raises(ValueError, match=r"line 3: impossible age 412"):
        open_dataset("nih", root=nih_root, load_images=False)
    ds = open_dataset("nih", root=nih_root, load_images=False, on_bad="skip")
    assert ds.info["skipped"]["counts"] == {"impossible age 412": 1}
    _replace(
        nih_root / "Data_Entry_2017_v2020.csv", "Cardiomegaly|Emphysema,1,1,412,", "Cardiomegaly|Emphysema,1,1,58,"
    )
    _replace(nih_root / "Data_Entry_2017_v2020.csv", "No Finding,0,2,80,", "No Finding,0,two,80,")
    with pytest.raises(ValueError, match=r"line 4: .*Patient ID 'two' is not an integer"):
        open_dataset("nih", root=nih_root, load_images=False)


def test_empty_and_headerless_files(chexpert_root, mura_root):
    (chexpert_root / "CheXpert-v1.0-small" / "train.csv").write_text("")
    with pytest.raises(ValueError, match="train.csv: the file is empty"):
        open_dataset("chexpert", root=chexpert_root, load_images=False)
    (mura_root / "MURA-v1.1" / "train_labeled_studies.csv").write_text("a,b,c\n")
    with pytest.raises(ValueError, match="expected 2 column"):
        open_dataset("mura", root=mura_root, load_images=False)


def test_mimic_unknown_split_value(mimic_root):
    _replace_gz(mimic_root / "mimic-cxr-2.0.0-split.csv.gz", ",validate", ",valid")
    with pytest.raises(ValueError, match=r"split.csv.gz, line 5: unknown split 'valid'"):
        open_dataset("mimic", root=mimic_root, load_images=False)


def test_bad_policy_and_rule(chexpert_root, vindr_root):
    with pytest.raises(ValueError, match="unknown uncertain-label policy"):
        open_dataset("chexpert", root=chexpert_root, label_policy="maybe", load_images=False)
    with pytest.raises(ValueError, match="unknown label_rule"):
        open_dataset("vindr", root=vindr_root, label_rule="any", load_images=False)
    with pytest.raises(ValueError, match="unknown CheXpert class"):
        open_dataset("chexpert", root=chexpert_root, classes=["Effusion"], load_images=False)
