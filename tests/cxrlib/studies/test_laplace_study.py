"""The Laplace study's settings: presets, validation, and the labels its run header uses."""

import pytest

from cxrlib.studies import STUDY_RUNNERS, STUDY_SETTINGS
from cxrlib.studies.laplace import PRESETS, LaplaceSettings, laplace_settings
from cxrlib.studies.runinfo import _LABELS, _SETTINGS_SHOWN


def test_presets_resolve_and_register():
    for profile in PRESETS:
        s = laplace_settings(profile)
        assert s.profile == profile and s.backbone == "vilter-cnn" and s.hessians == ("diag", "full", "kron")
    assert STUDY_SETTINGS["06_laplace"] is LaplaceSettings
    assert STUDY_RUNNERS["06_laplace"][0] is laplace_settings


@pytest.mark.parametrize(
    "override, word",
    [
        ({"hessians": ("diag", "blockdiag")}, "hessians"),
        ({"hessians": ()}, "hessians"),
        ({"prior_fit": "loo"}, "prior_fit"),
        ({"cv_folds": 1}, "cv_folds"),
        ({"predictive": "bridge"}, "predictive"),
        ({"backbone": "vit"}, "backbone"),
        ({"cxr_backbone": "vit"}, "cxr_backbone"),
        ({"n": 10}, "'n'"),
        ({"ood_n": -1}, "ood_n"),
    ],
)
def test_bad_settings_name_the_parameter(override, word):
    with pytest.raises(ValueError, match=word):
        LaplaceSettings(**override)


def test_new_settings_have_header_labels():
    for key in ("hessians", "prior_fit", "cv_folds", "predictive", "cxr_backbone", "ood_n"):
        assert key in _SETTINGS_SHOWN and key in _LABELS
    assert "multilabel_images" in _LABELS


def test_06_says_whether_laplace_moved_the_ece_the_source_s_way():
    import pandas as pd

    from cxrlib.studies.laplace.discussion import source_direction_sentence

    ours = pd.DataFrame({"ECE": [0.041, 0.204, 0.03]}, index=["MAP", "Laplace full", "Laplace kron"])
    text = source_direction_sentence(ours)
    assert "Laplace full: the source's ECE went 0.074 → 0.030, ours 0.041 → 0.204 (5.0×" in text
    assert "the opposite direction" in text and "the same direction" in text  # kron lowered it, as theirs
