"""The runner, the table of contents and the committed notebooks agree; notebooks carry no outputs."""

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from cxrlib import book
from cxrlib.scorecard import NOT_IN_RUN, SCORECARD, lookup, scorecard_markdown

ROOT = Path(__file__).resolve().parents[2]


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def test_every_notebook_is_in_toc_and_runner():
    on_disk = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert on_disk == sorted(book.NOTEBOOKS)
    toc_notebooks = [f.split("/")[-1] for f in _toc_files() if f.startswith("book/notebooks/")]
    assert sorted(toc_notebooks) == sorted(book.NOTEBOOKS)
    for f in _toc_files():
        if not f.startswith("book/notebooks/"):
            assert (ROOT / f"{f}.md").exists() or f in ("book/scorecard", "book/performance"), f  # generated


@pytest.mark.parametrize("name", book.NOTEBOOKS)
def test_committed_notebooks_are_clean_and_parameterised(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and code[0] is tagged[0]
    assert 'profile = "default"' in tagged[0].source
    # thin: no function definitions in notebooks
    assert not any(line.lstrip().startswith("def ") for c in code for line in c.source.splitlines())


def test_execute_rejects_unknown_profile_and_notebook():
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        book.execute_notebooks("huge")
    with pytest.raises(ValueError, match="unknown notebook"):
        book.execute_notebooks("smoke", ["99_nothing"])


def test_record_results_and_scorecard(tmp_path, monkeypatch):
    monkeypatch.setenv("CXRLIB_RESULTS_DIR", str(tmp_path / "results"))
    import numpy as np

    path = book.record_results(
        "04_imbalance_losses",
        {
            "dataset": "synth-cxr",
            "profile": "smoke",
            "image_size": 64,
            "losses": {"wbce": {"mean_auroc": np.float64(0.71), "per_class_auroc": {"Edema": float("nan")}}},
        },
    )
    data = json.loads(path.read_text())
    assert data["losses"]["wbce"]["per_class_auroc"]["Edema"] is None
    results = book.collect_results(tmp_path)
    assert lookup(results, "04_imbalance_losses", "losses.wbce.mean_auroc") == 0.71
    page = scorecard_markdown(results)
    assert "| Table 4.2 | CE | mean val AUROC | 0.8841 | 0.710 |" in page
    assert "synth-cxr, smoke profile, 64 px" in page
    assert "| CE Edema | val AUROC | 0.8489 (note 2) | undefined |" in page  # NaN: written, not missing
    rows_of_04 = sum(1 for r in SCORECARD if r.notebook == "04_imbalance_losses")
    assert page.count("not yet run") == len(SCORECARD) - rows_of_04  # 04 ran: its other rows are "not in this run"
    assert page.count(NOT_IN_RUN) == rows_of_04 - 2
    for table in [
        "Table 4.1",
        "Table 4.2",
        "Table 4.3",
        "Table 1",
        "Table 5.1",
        "Table 5.3",
        "Table 5.4",
        "Table 5.5",
        "Table 6.2",
        "Exp. 1",
        "Exp. 2",
    ]:
        assert f"| {table} |" in page


def test_unchanged_notebooks_are_not_run_again(tmp_path, monkeypatch):
    import papermill

    (tmp_path / "notebooks").mkdir()
    source = tmp_path / "notebooks" / "00_data.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), source)
    calls = []

    def fake_execute(src, dst, parameters, **kwargs):
        calls.append(parameters["profile"])
        nbformat.write(nbformat.v4.new_notebook(), dst)
        (tmp_path / "results").mkdir(exist_ok=True)
        (tmp_path / "results" / "00_data.json").write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    run = lambda **kw: book.execute_notebooks("smoke", ["00_data"], tmp_path, **kw)  # noqa: E731
    run()
    run()
    assert calls == ["smoke"] and book.skipped_notebooks == ["00_data"]
    run(force=True)
    book.execute_notebooks("default", ["00_data"], tmp_path)
    assert calls == ["smoke", "smoke", "default"]
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("changed"))
    nbformat.write(nb, source)
    book.execute_notebooks("default", ["00_data"], tmp_path)
    assert calls[-1] == "default" and len(calls) == 4 and book.skipped_notebooks == []
    (tmp_path / "results" / "00_data.json").unlink()  # a lost results file means a rerun
    book.execute_notebooks("default", ["00_data"], tmp_path)
    assert len(calls) == 5


def test_fingerprint_follows_profile_parameters_and_source(tmp_path):
    nb = tmp_path / "x.ipynb"
    nb.write_text("a")
    base = book.run_fingerprint(nb, "smoke")
    assert base == book.run_fingerprint(nb, "smoke", {})
    assert base != book.run_fingerprint(nb, "default")
    assert base != book.run_fingerprint(nb, "smoke", {"epochs": 1})
    nb.write_text("b")
    assert base != book.run_fingerprint(nb, "smoke")


def test_dependencies_run_first_and_a_changed_upstream_reruns_downstream(tmp_path, monkeypatch):
    import papermill

    (tmp_path / "notebooks").mkdir()
    for name in ("00_data", "01_baseline"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / f"{name}.ipynb")
    calls = []

    def fake_execute(src, dst, parameters, **kwargs):
        calls.append(Path(src).stem)
        nbformat.write(nbformat.v4.new_notebook(), dst)
        (tmp_path / "results").mkdir(exist_ok=True)
        (tmp_path / "results" / f"{Path(src).stem}.json").write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.setattr(book, "DEPENDENCIES", {"01_baseline": ("00_data",)})
    book.execute_notebooks("smoke", ["01_baseline"], tmp_path)
    assert calls == ["00_data", "01_baseline"]
    book.execute_notebooks("smoke", ["01_baseline"], tmp_path)
    assert calls == ["00_data", "01_baseline"]  # nothing changed: neither runs
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("upstream changed"))
    nbformat.write(nb, tmp_path / "notebooks" / "00_data.ipynb")
    book.execute_notebooks("smoke", ["01_baseline"], tmp_path)
    assert calls[2:] == ["00_data", "01_baseline"]


def test_artifacts_round_trip_and_name_the_notebook_to_run(tmp_path, monkeypatch):
    import numpy as np
    import torch

    from cxrlib.artifacts import load_artifact, save_artifact

    monkeypatch.setenv("CXRLIB_RESULTS_DIR", str(tmp_path))
    logits = np.arange(6, dtype=np.float32).reshape(3, 2)
    path = save_artifact("01_baseline", "test_logits", {"logits": logits, "classes": ["A", "B"], "epoch": 3})
    assert path == tmp_path / "artifacts" / "01_baseline" / "test_logits.pt"
    back = load_artifact("01_baseline", "test_logits")
    assert torch.equal(back["logits"], torch.from_numpy(logits)) and back["classes"] == ["A", "B"]
    with pytest.raises(FileNotFoundError, match="run 00_data first"):
        load_artifact("00_data", "missing")
    with pytest.raises(ValueError, match="artifact name"):
        save_artifact("01_baseline", "../escape", 1)


def test_bookkeeping_cells_are_recognised_and_nothing_else():
    from cxrlib.book import is_bookkeeping_cell

    assert is_bookkeeping_cell('_ = record_results("01_baseline", result.headline)  # for the scorecard')
    assert is_bookkeeping_cell('_ = record_results("08_pylon", h)\n_ = result.save_weights()')
    assert is_bookkeeping_cell("result.save_weights()")
    assert not is_bookkeeping_cell('x = record_results("01", h)')  # a value the notebook goes on with
    assert not is_bookkeeping_cell('_ = record_results("01", h)\nresult.table()')  # shows something
    assert not is_bookkeeping_cell("result.table()") and not is_bookkeeping_cell("") and not is_bookkeeping_cell("(")


def test_scale_guide_covers_every_notebook_from_its_presets(tmp_path):
    from cxrlib.scale_guide import SCALE_NOTES, scale_markdown

    assert list(SCALE_NOTES) == book.NOTEBOOKS
    page = scale_markdown({"profile": "default", "seconds": {"08_pylon": 200.0}, "machine": {"cpu_model": "X"}})
    assert page.count("- **Cannot show**") == len(book.NOTEBOOKS)
    assert "resnet50" in page and "256 px" in page  # 08's full preset, read from its settings
    assert "Took 3.3 min here" in page
