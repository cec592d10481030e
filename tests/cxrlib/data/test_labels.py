import numpy as np
import pandas as pd
import pytest

from cxrlib.data import UncertainPolicy, apply_label_policy, resolve_policy

CLASSES = ["Atelectasis", "Cardiomegaly", "Edema"]


def raw():
    return pd.DataFrame(
        {"Atelectasis": [1, 0, -1, np.nan], "Cardiomegaly": [-1, -1, 1, 0], "Edema": [np.nan, -1, 0, 1]}
    )


@pytest.mark.parametrize("policy, uncertain_value", [("ones", 1.0), ("zeros", 0.0), ("ignore", np.nan)])
def test_global_policies(policy, uncertain_value):
    out = apply_label_policy(raw(), CLASSES, policy)
    r = raw()
    for c in CLASSES:
        for i in range(len(r)):
            v = r.loc[i, c]
            expected = uncertain_value if v == -1 else v
            assert (np.isnan(expected) and np.isnan(out.loc[i, c])) or out.loc[i, c] == expected


def test_sharma2023_preset_per_class():
    out = apply_label_policy(raw(), CLASSES, "sharma2023")
    assert out.loc[2, "Atelectasis"] == 0.0  # uncertain → 0
    assert out.loc[0, "Cardiomegaly"] == 1.0 and out.loc[1, "Cardiomegaly"] == 1.0  # uncertain → 1
    assert out.loc[1, "Edema"] == 1.0
    assert np.isnan(out.loc[3, "Atelectasis"])  # blank stays unknown


def test_mapping_default_and_blank_as_negative():
    out = apply_label_policy(raw(), CLASSES, {"Edema": "ones", "*": "zeros"}, blank_as_negative=True)
    assert out.loc[1, "Edema"] == 1.0 and out.loc[2, "Atelectasis"] == 0.0
    assert out.loc[3, "Atelectasis"] == 0.0 and out.loc[0, "Edema"] == 0.0


def test_unknown_value_names_row_and_column():
    bad = raw().astype(object)
    bad.loc[2, "Edema"] = "2"
    with pytest.raises(ValueError, match=r"train.csv: row 2, column 'Edema': unknown label value '2'"):
        apply_label_policy(bad, CLASSES, "ones", source="train.csv")
    text = raw().astype(object)
    text.loc[1, "Atelectasis"] = "maybe"
    with pytest.raises(ValueError, match="row 1, column 'Atelectasis'"):
        apply_label_policy(text, CLASSES, "ones")


def test_missing_column_and_unknown_policy():
    with pytest.raises(ValueError, match="missing label columns"):
        apply_label_policy(raw().drop(columns="Edema"), CLASSES)
    with pytest.raises(ValueError, match="unknown uncertain-label policy 'sometimes'"):
        resolve_policy("sometimes", CLASSES)
    with pytest.raises(ValueError, match="unknown uncertain-label policy"):
        resolve_policy({"Edema": "twos"}, CLASSES)


def test_presets_work_on_any_subset_of_classes():
    # sharma2023 names Cardiomegaly and Edema: on a subset without them the rest follow "*"
    assert resolve_policy("sharma2023", ["Atelectasis", "Pleural Effusion"]) == {
        "Atelectasis": UncertainPolicy.ZEROS,
        "Pleural Effusion": UncertainPolicy.ZEROS,
    }
    assert resolve_policy("libauc", ["Edema"]) == {"Edema": UncertainPolicy.ONES}
    out = apply_label_policy(raw()[["Cardiomegaly"]], ["Cardiomegaly"], "sharma2023")
    assert out["Cardiomegaly"].tolist()[:2] == [1.0, 1.0]


def test_a_user_mapping_naming_an_unknown_class_still_raises():
    with pytest.raises(ValueError, match=r"names unknown classes \['Edema'\]"):
        resolve_policy({"Edema": "ones", "*": "zeros"}, ["Atelectasis"])


def test_labels_from_votes_union_and_majority():
    from cxrlib.data.labels import labels_from_votes

    votes = pd.DataFrame({"A": [0, 1, 2, 3], "B": [1, 0, 0, 2]})
    assert labels_from_votes(votes, "union").to_numpy().tolist() == [[0, 1], [1, 0], [1, 0], [1, 1]]
    assert labels_from_votes(votes, "majority").to_numpy().tolist() == [[0, 0], [0, 0], [1, 0], [1, 1]]
    with pytest.raises(ValueError, match="unknown reader rule 'any'"):
        labels_from_votes(votes, "any")
