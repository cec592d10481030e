import pandas as pd
import pytest

from cxrlib.data import PatientLeakageError, check_patient_leakage, split_by_patient


def table(n_patients=50, per=3):
    return pd.DataFrame(
        {
            "image": [f"{p}_{s}" for p in range(n_patients) for s in range(per)],
            "patient_id": [f"p{p}" for p in range(n_patients) for _ in range(per)],
        }
    )


def test_split_is_patient_disjoint_deterministic_and_proportional():
    t = table()
    s = split_by_patient(t, seed=1)
    t["split"] = s
    check_patient_leakage(t)
    assert (t.groupby("patient_id")["split"].nunique() == 1).all()
    assert split_by_patient(t, seed=1).equals(s)
    counts = t.drop_duplicates("patient_id")["split"].value_counts()
    assert counts["train"] == 35 and sorted([counts["val"], counts["test"]]) == [7, 8]


def test_leak_is_reported_with_patient():
    t = table(4, 2)
    t["split"] = ["train", "test", "train", "train", "val", "val", "test", "test"]
    with pytest.raises(PatientLeakageError, match=r"1 patient\(s\).*p0 in \['test', 'train'\]"):
        check_patient_leakage(t)


def test_empty_split_and_bad_fractions():
    with pytest.raises(ValueError, match="split 'test' would be empty"):
        split_by_patient(table(3, 1))
    with pytest.raises(ValueError, match="sum to 1"):
        split_by_patient(table(), {"train": 0.5, "test": 0.2})
    with pytest.raises(ValueError, match="no 'patient_id' column"):
        split_by_patient(table().drop(columns="patient_id"))
    t = table(5, 1)
    t.loc[3, "patient_id"] = None
    with pytest.raises(ValueError, match="row 3: missing patient_id"):
        split_by_patient(t)
