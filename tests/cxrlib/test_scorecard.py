"""The scorecard page from hand-written results dicts, and the intro's study table kept true."""

import re
from pathlib import Path

import pytest

from cxrlib import book
from cxrlib.scorecard import (
    DECIMALS,
    NOT_IN_RUN,
    SCORECARD,
    STUDIES,
    describe_run,
    format_value,
    run_config,
    scorecard_markdown,
    shared_runs,
)

ROOT = Path(__file__).resolve().parents[2]

BASELINE = {
    "dataset": "synth-cxr",
    "profile": "smoke",
    "image_size": 64,
    "n_train": 400,
    "n_test": 100,
    "backbones": {
        "densenet121": {
            "mean_auroc": 0.712345,
            "point_localization_accuracy": 0.5,
            "per_class_auroc": {
                "Atelectasis": 0.6,
                "Cardiomegaly": 0.91449,
                "Consolidation": 0.7,
                "Edema": None,
                "Pleural Effusion": 0.8,
            },
        }
    },
}


def _row(page: str, row: str, table: str = "Table 4.2") -> str:
    """The line of the scorecard table for paper ``table``, row ``row``."""
    hits = [line for line in page.splitlines() if line.startswith(f"| {table} | {row} | ")]
    assert len(hits) == 1, (table, row, hits)
    return hits[0]


def test_empty_results_fill_nothing_and_say_so():
    page = scorecard_markdown({}, notebooks=["00_data", "01_baseline"], executed=[])
    assert f"**0 of {len(SCORECARD)} rows filled**" in page
    assert page.count("not yet run") == len(SCORECARD)
    assert "No notebook has written results in this build." in page
    assert "01_baseline (not run in this build)" in page and "08_pylon (planned)" in page
    assert "{doc}`" not in page  # nothing to link to


IMBALANCE = {
    "losses": {
        "wbce": {
            "mean_auroc": 0.712345,
            "per_class_auroc": {
                "Atelectasis": 0.6,
                "Cardiomegaly": 0.91449,
                "Consolidation": 0.7,
                "Edema": None,
                "Pleural Effusion": 0.8,
            },
        },
        "focal": {"mean_auroc": 0.7},
        "aucm": {"mean_auroc": 0.65},
    }
}
CALIBRATION = {"losses": {"wbce": {"ece_15_before_after_ts": "0.237 → 0.240"}}}


def test_filled_rows_counted_linked_and_printed_to_three_decimals():
    results = {
        "04_imbalance_losses": IMBALANCE,
        "_runner": {"profile": "smoke", "seconds": {"04_imbalance_losses": 3.0}},
    }
    page = scorecard_markdown(
        results, notebooks=["00_data", "04_imbalance_losses"], executed=["00_data", "04_imbalance_losses"]
    )
    rows = sum(1 for r in SCORECARD if r.notebook == "04_imbalance_losses")
    assert rows == 18  # Table 4.2: CE, Focal and DeepAUC, each mean and per class
    filled = 8  # this results file has no per-class AUROC of Focal and DeepAUC
    assert f"**{filled} of {len(SCORECARD)} rows filled**" in page
    assert page.count("not yet run") == len(SCORECARD) - rows  # the notebooks that did not run
    assert page.count(NOT_IN_RUN) == rows - filled  # 04 ran, without these keys
    assert DECIMALS == 3
    line = _row(page, "CE Cardiomegaly")
    assert "| 0.9032 | 0.914 |" in line  # paper as published, ours to 3 decimals
    assert "{doc}`04 <notebooks/04_imbalance_losses>`" in line  # the notebook by its number
    assert "| 0.8489 (note 2) | undefined |" in _row(page, "CE Edema")  # NaN written as null; §3.4's other value
    assert "| 0.8291 | 0.650 |" in _row(page, "DeepAUC (AUC-M)")
    assert "Note 1: §3.4 gives 0.867 for weighted CE, which matches neither Table 4.1 nor Table 4.2." in page
    assert "_runner" not in page  # the runner's file is not a notebook


def test_before_after_rows_print_the_pair_as_the_paper_does():
    page = scorecard_markdown({"05_calibration": CALIBRATION})
    assert "| 0.1147 → 0.0996 | 0.237 → 0.240 |" in _row(page, "CE", "Table 4.3")
    assert NOT_IN_RUN in _row(page, "Focal", "Table 4.3")


def test_one_run_standing_in_for_two_paper_setups_is_flagged(monkeypatch):
    import cxrlib.scorecard as scorecard
    from cxrlib.scorecard import ScorecardRow

    ce = ("01_baseline", "backbones.densenet121.mean_auroc")
    rows = [
        ScorecardRow("S1", "Table 4.1", "CE (weighted BCE)", "mean val AUROC", "0.756", *ce, setup="15 epochs"),
        ScorecardRow("S3", "Table 4.2", "CE", "mean val AUROC", "0.8841", *ce, setup="5 epochs"),
        ScorecardRow(
            "S3",
            "Table 4.2",
            "CE Atelectasis",
            "val AUROC",
            "0.8350",
            "01_baseline",
            "backbones.densenet121.per_class_auroc.Atelectasis",
        ),
    ]
    monkeypatch.setattr(scorecard, "SCORECARD", rows)
    results = {"01_baseline": BASELINE}
    groups = shared_runs(results, rows)
    assert [[(r.study, r.table, r.paper) for r in g] for g in groups] == [
        [("S1", "Table 4.1", "0.756"), ("S3", "Table 4.2", "0.8841")]
    ]
    page = scorecard.scorecard_markdown(results)
    assert "```{warning}" in page
    warning = page.split("```{warning}")[1].split("```")[0]
    assert "0.756" in warning and "0.8841" in warning and "15 epochs" in warning and "5 epochs" in warning
    assert "per_class_auroc" not in warning and "mean_auroc" not in warning  # no internal keys for a reader
    assert "0.712 †1" in _row(page, "CE (weighted BCE)", "Table 4.1")
    assert "0.712 †1" in _row(page, "CE")
    assert "†" not in _row(page, "CE Atelectasis")
    assert "```{warning}" not in scorecard.scorecard_markdown({})


def test_run_config_prefers_the_run_record_and_falls_back_to_top_level_keys():
    old = run_config(BASELINE)
    assert old == {"dataset": "synth-cxr", "profile": "smoke", "image_size": 64, "n_train": 400, "n_test": 100}
    new = dict(
        BASELINE,
        run={
            "dataset": "nih",
            "profile": "full",
            "image_size": 256,
            "n_train": 80000,
            "n_val": 5000,
            "n_test": 25000,
            "epochs": 15,
            "seeds": [0, 1, 2, 3, 4],
            "pretrained": True,
            "device": "cuda",
            "wall_seconds": 7200.0,
            "cxrlib_version": "0.2.0",
        },
    )
    config = run_config(new)
    assert config["dataset"] == "nih" and config["epochs"] == 15 and config["seeds"] == [0, 1, 2, 3, 4]
    line = describe_run(config)
    for text in (
        "dataset nih",
        "full profile",
        "256 px",
        "15 epochs",
        "80000 train",
        "5000 val",
        "25000 test",
        "seeds 0, 1, 2, 3, 4",
        "ImageNet-pretrained",
        "on cuda",
        "120.0 min",
        "cxrlib 0.2.0",
    ):
        assert text in line, text
    assert "epochs not recorded" in describe_run(old) and "seeds not recorded" in describe_run(old)
    page = scorecard_markdown({"01_baseline": new}, executed=["01_baseline"])
    runs = page.split("## The runs behind our numbers")[1]
    assert "{doc}`01_baseline <notebooks/01_baseline>`: dataset nih, full profile, 256 px, 15 epochs" in runs


def test_format_value():
    assert format_value(0.75649) == "0.756"
    assert format_value(float("nan")) == format_value(None) == "undefined"
    assert format_value(12) == "12" and format_value("≈1e-9") == "≈1e-9"
    assert format_value(3.2e-5) == "3.2e-05" and format_value(0.0004) == "4.0e-04" and format_value(0.0) == "0.000"


def test_every_study_has_a_section_and_every_row_a_study():
    ids = [s.id for s in STUDIES]
    assert ids == [f"S{i}" for i in range(1, 8)]
    assert {r.study for r in SCORECARD} <= set(ids)
    page = scorecard_markdown({})
    for s in STUDIES:
        assert f"## {s.id}: {s.title}" in page


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text(), re.M))


def test_every_cited_key_is_in_the_bibliography():
    keys = _bib_keys()
    assert {k for s in STUDIES for k in s.sources} <= keys
    cited = set()
    texts = [p.read_text() for p in (ROOT / "book").glob("*.md") if p.name != "scorecard.md"]
    texts.append(scorecard_markdown({}))
    for text in texts:
        text = re.sub(r"``.*?``", "", text, flags=re.S)  # examples in double-backtick code
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            cited |= {k.strip() for k in group.split(",")}
    assert cited, "no citations found"
    assert cited <= keys, cited - keys


def _intro_rows() -> dict[str, str]:
    text = (ROOT / "book" / "intro.md").read_text()
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| (S\d) \|.*$", text, re.M)}


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.id)
def test_intro_study_table_links_exactly_the_notebooks_that_exist(study):
    row = _intro_rows()[study.id]
    assert "{cite" in row  # the source is cited, not "seed 00x"
    assert "seed 0" not in row
    notebook_cell = row.rstrip(" |").rsplit(" | ", 1)[1]
    for name in study.notebooks:
        if name in book.NOTEBOOKS:
            assert f"{{doc}}`{name} <notebooks/{name}>`" in notebook_cell, f"{study.id}: link {name}"
        else:
            assert f"{name} (planned)" in notebook_cell, f"{study.id}: mark {name} as planned"
    linked = re.findall(r"<notebooks/(\w+)>", notebook_cell)
    assert set(linked) <= set(book.NOTEBOOKS)


def test_every_notebook_of_the_book_belongs_to_a_study_or_is_the_data_chapter_or_a_tool():
    planned = {n for s in STUDIES for n in s.notebooks}
    assert set(book.NOTEBOOKS) - planned <= {"00_data", *book.TOOL_NOTEBOOKS}
    assert set(book.TOOL_NOTEBOOKS) <= set(book.NOTEBOOKS) and not set(book.TOOL_NOTEBOOKS) & planned


def test_a_run_with_several_groups_of_seeds_names_them():
    result = {
        "run": {
            "dataset": "synth-cxr",
            "profile": "smoke",
            "image_size": 64,
            "epochs": 2,
            "gap_seeds": [0, 1],
            "ablation_seeds": [0],
            "transfer_seeds": [0],
            "cxrlib_version": "0",
        }
    }
    line = describe_run(run_config(result))
    assert "seeds gap 0, 1; ablation 0; transfer 0" in line and "not recorded" not in line.replace(
        "split sizes not recorded", ""
    )


def test_verdict_needs_the_papers_data_at_full_scale_and_an_interval():
    from cxrlib.scorecard import STUDIES, comparable, interval, seed_count, verdict

    s7 = next(s for s in STUDIES if s.id == "S7")
    assert not comparable(s7, {"dataset": "synth-cxr", "profile": "full"})
    assert not comparable(s7, {"dataset": "nih", "profile": "default"})
    assert comparable(s7, {"dataset": "nih", "profile": "full"})
    assert verdict("0.62", 0.60, 0.03, True) == "agrees"
    assert verdict("0.62", 0.50, 0.03, True) == "differs"
    assert verdict("0.62", 0.62, None, True) == "no interval"
    assert verdict("0.62", 0.62, 0.5, False) == "not comparable"
    assert verdict("none reported", 0.9, 0.01, True) == "no paper number"
    results = {
        "nb": {"arms": {"ce": {"mean_auroc": 0.8, "mean_auroc_ci95": 0.02}}, "auc": {"A": 0.7}, "auc_ci95": {"A": 0.1}}
    }
    assert interval(results, "nb", "arms.ce.mean_auroc") == 0.02
    assert interval(results, "nb", "auc.A") == 0.1
    assert interval(results, "nb", "arms.ce.other") is None
    assert seed_count({"seeds": [0, 1, 2]}) == 3 and seed_count({}) is None


def test_scorecard_rows_carry_seeds_verdict_and_the_reason():
    from cxrlib.scorecard import scorecard_markdown

    results = {
        "08_pylon": {
            "run": {"dataset": "synth-cxr", "profile": "default", "image_size": 64, "n_train": 560, "seeds": [0, 1]},
            "models": {"pylon": {"point_localization_weighted": 0.3}},
        }
    }
    page = scorecard_markdown(results, notebooks=["08_pylon"])
    row = next(line for line in page.splitlines() if line.startswith("| Table 5.1 | PYLON |"))
    assert "| 2 | not comparable |" in row
    assert "08_pylon ran on synth-cxr, 64 px, 560 training images, default profile" in page


def test_an_interval_past_zero_or_one_is_clipped_for_bounded_metrics():
    from cxrlib.scorecard import with_interval

    assert with_interval(0.79, 0.012) == "0.790 ± 0.012"
    assert with_interval(0.529, 0.799) == "0.529 [0.000, 1.000]"
    assert with_interval(0.9, 0.5, bounded=False) == "0.900 ± 0.500"  # NLL is not bounded by 1
    assert with_interval(0.9, None) == "0.900"


def test_a_512_px_row_reads_only_a_512_px_run():
    pylon = {
        "run": {"image_size": 256, "profile": "full", "dataset": "nih"},
        "models": {"pylon": {"point_localization_weighted": 0.61}, "gmp": {"point_localization_weighted": 0.5}},
    }
    page = scorecard_markdown({"08_pylon": pylon}, notebooks=["08_pylon"], executed=["08_pylon"])
    assert "not run at 512 px in this profile (256 px)" in _row(page, "PYLON (512 px)", "Table 5.3")
    assert "0.610" not in _row(page, "PYLON (512 px)", "Table 5.3")
    at_512 = {**pylon, "run": {**pylon["run"], "image_size": 512}}
    page = scorecard_markdown({"08_pylon": at_512}, notebooks=["08_pylon"], executed=["08_pylon"])
    assert "0.610" in _row(page, "PYLON (512 px)", "Table 5.3")
