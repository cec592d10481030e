from dataclasses import dataclass

import torch

from cxrlib.studies.runinfo import describe_run, device_description, run_header, run_header_table


@dataclass
class Demo:
    profile: str = "smoke"
    dataset: str = "synth-cxr"
    image_size: int = 64
    epochs: int = 2
    seeds: tuple[int, ...] = (0, 1)
    pretrained: bool = False
    device: str = "cpu"
    lr: float = 1e-3
    progress: bool = True  # not part of the header


def test_run_dict_and_header_table():
    run = describe_run(Demo(), {"train": 70, "val": 15, "test": 15}, wall_seconds=75.2)
    assert "progress" not in run and run["seeds"] == [0, 1] and run["n_test"] == 15 and run["lr"] == 1e-3
    assert run["device"].startswith("CPU (") and run["torch_version"] == torch.__version__
    table = run_header_table(run)
    assert list(table.columns) == ["value"] and table.index.name == "setting"
    assert table.loc["profile", "value"] == "smoke"
    assert table.loc["wall time", "value"] == "1 min 15 s"
    assert table.loc["training seeds", "value"] == "0, 1 (2 runs of each model)"
    assert table.loc["learning rate (Adam)", "value"] == "0.001"
    assert table.loc["ImageNet weights", "value"].startswith("no")
    html = run_header(run).to_html()
    assert "PosixPath" not in html and "Demo(" not in html and "This run" in html and "device" in html


def test_device_description_names_the_device():
    assert device_description("cpu").startswith("CPU")


def test_booleans_read_yes_or_no_in_the_header():
    values = run_header_table({"augment": False, "pretrained": True})["value"].tolist()
    assert values == ["no", "yes"]


def test_header_names_options_as_the_tables_do():
    """The header said `wbce, aucm` where the tables say CE and AUC-M; the policy read "none" for the default."""

    @dataclass
    class Options:
        losses: tuple[str, ...] = ("wbce", "aucm", "new")
        rules: str = "error-model-probs"
        label_policy: str | None = None

    names = {"losses": {"wbce": "CE", "aucm": "AUC-M"}, "rules": {"error-model-probs": "error model (probs only)"}}
    run = describe_run(Options(), names=names)
    assert run["losses"] == ["CE", "AUC-M", "new"] and run["rules"] == "error model (probs only)"
    policy = run_header_table(run).loc["uncertain-label policy", "value"]
    assert "default" in policy and policy != "none"
