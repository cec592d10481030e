from dataclasses import dataclass

import pytest

from cxrlib.studies.parameters import PRESET, ParameterError, coerce_parameter, resolve_settings


@dataclass
class Demo:
    profile: str = "default"
    n: int = 10
    lr: float = 1e-3
    pretrained: bool = False
    prevalence: float | None = 0.25
    data_root: str | None = None
    backbones: tuple[str, ...] = ("densenet121",)
    seeds: tuple[int, ...] = (0,)


PRESETS = {"smoke": {"n": 2, "seeds": (0, 1)}}


@pytest.mark.parametrize(
    "typed",
    [
        "densenet121,vgg19",
        " densenet121 , vgg19 ",
        "['densenet121', 'vgg19']",
        '["densenet121", "vgg19"]',
        ["densenet121", "vgg19"],
        ("densenet121", "vgg19"),
    ],
)
def test_list_parameters_accept_what_users_type(typed):
    """papermill -p passes strings: the README's "['densenet121']" used to split into letters."""
    assert resolve_settings(Demo, PRESETS, "default", backbones=typed).backbones == ("densenet121", "vgg19")


def test_integer_tuples_and_scalars_are_converted():
    s = resolve_settings(Demo, PRESETS, "default", seeds="0,1,2", n="7", lr="3e-4", pretrained="true")
    assert s.seeds == (0, 1, 2) and s.n == 7 and s.lr == pytest.approx(3e-4) and s.pretrained is True
    assert resolve_settings(Demo, PRESETS, "default", seeds="[3, 4]").seeds == (3, 4)
    assert resolve_settings(Demo, PRESETS, "default", n=5.0).n == 5


def test_none_keeps_the_preset_only_where_none_is_not_a_value():
    s = resolve_settings(Demo, PRESETS, "smoke", n=None, seeds=None, prevalence=None)
    assert s.n == 2 and s.seeds == (0, 1)
    assert s.prevalence is None  # was silently dropped before: the per-class defaults could not be asked for
    assert resolve_settings(Demo, PRESETS, "smoke", prevalence=PRESET).prevalence == 0.25
    assert resolve_settings(Demo, PRESETS, "smoke", prevalence="0.5").prevalence == 0.5


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("n", "ten", "parameter 'n' must be int"),
        ("seeds", "0,one", "parameter 'seeds' must be int"),
        ("backbones", "['densenet121'", "cannot read"),
        ("pretrained", "maybe", "parameter 'pretrained' must be bool"),
        ("lr", [1e-3], "parameter 'lr' must be float"),
    ],
)
def test_unreadable_values_name_the_parameter(name, value, message):
    with pytest.raises(ParameterError, match=message):
        resolve_settings(Demo, PRESETS, "default", **{name: value})


def test_unknown_profile_or_setting():
    with pytest.raises(ParameterError, match="unknown profile"):
        resolve_settings(Demo, PRESETS, "huge")
    with pytest.raises(ParameterError, match=r"no setting\(s\) \['epochz'\]"):
        resolve_settings(Demo, PRESETS, "default", epochz=3)


def test_coerce_parameter_on_its_own():
    assert coerce_parameter("x", "1,2", tuple[int, ...]) == (1, 2)
    assert coerce_parameter("x", None, float | None) is None
    with pytest.raises(ParameterError):
        coerce_parameter("x", None, int)


def test_notebook_parameters_take_the_settings_and_refuse_unknown_names():
    from cxrlib.studies.parameters import notebook_parameters

    cell = '# Parameters (papermill)\nprofile = "default"  # the preset\nn = None\nbackbones = None\n'
    injected = '# Parameters\nprofile = "smoke"\nbackbones = "a,b"\n'
    later = "settings = 1\npositions = [1, 2]\n"  # cells run after the parameters are not parameters
    namespace = {
        "profile": "smoke",
        "n": None,
        "backbones": "a,b",
        "settings": 1,
        "positions": [1, 2],
        "In": ["", cell, injected, later],
    }
    assert notebook_parameters(namespace, Demo) == {"profile": "smoke", "n": None, "backbones": "a,b"}
    typo = {**namespace, "epoch": 3, "In": [*namespace["In"], "# Parameters\nepoch = 3\n"]}
    with pytest.raises(ParameterError, match=r"unknown notebook parameter\(s\) 'epoch'"):
        notebook_parameters(typo, Demo)
    typo = {**namespace, "backbone": 3, "In": [*namespace["In"], "# Parameters\nbackbone = 'vgg19'\n"]}
    with pytest.raises(ParameterError, match=r"'backbone' \(did you mean 'backbones'\?\)"):
        notebook_parameters(typo, Demo)
    with pytest.raises(ParameterError, match="no executed cell"):
        notebook_parameters({"In": [later]}, Demo)


def test_baseline_settings_name_a_wrong_backbone_before_anything_runs():
    from cxrlib.studies import baseline_settings

    assert baseline_settings("smoke", backbones="densenet121,vgg19").backbones == ("densenet121", "vgg19")
    with pytest.raises(ValueError, match=r"parameter 'backbones': unknown 'densenet12'"):
        baseline_settings("smoke", backbones="densenet12")
    with pytest.raises(ValueError, match="output_stride"):
        baseline_settings("smoke", output_stride=4)
