"""Headline numbers of the smoke-profile notebook runs (make test executes them first).

These check that the notebooks computed what they claim at reduced size, not the papers' values.
"""

import json
from pathlib import Path

import pytest

from cxrlib.book import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]


def _results(name, book_html):
    path = ROOT / "results" / f"{name}.json"
    assert path.exists(), f"{name} wrote no results"
    return json.loads(path.read_text())


def test_data_notebook(book_html):
    r = _results("00_data", book_html)
    assert r["dataset"] == "synth-cxr" and r["images"] > 100 and r["boxes"] > 50
    assert r["smallest_median_mask_pct"] < 1.0 < 5.0 < r["largest_median_mask_pct"]
    assert r["image_level_split_leaking_patients"] > 0  # the naive split leaks; ours does not (it would raise)


def test_baseline_notebook(book_html):
    r = _results("01_baseline", book_html)
    assert set(r["backbones"]) == {"small-cnn", "densenet121"}
    assert r["run"]["profile"] == "smoke" and r["run"]["n_test"] > 50 and r["run"]["device"]
    for b in r["backbones"].values():
        assert 0.0 <= b["point_localization_accuracy"] <= 1.0
        assert 0.0 <= b["cam_mass_in_mask"] <= 1.0
        assert b["grad_cam_grid"] == [8, 8]  # output stride 8 at 64 px: maps that can localise
        assert 0 <= b["flat_maps"] <= r["run"]["n_test"] * 5
        assert set(b["per_class_auroc"]) == {
            "Atelectasis",
            "Cardiomegaly",
            "Consolidation",
            "Edema",
            "Pleural Effusion",
        }
    # even at smoke size (420 images, 4 epochs) some backbone learns something real
    assert max(b["mean_auroc"] for b in r["backbones"].values()) > 0.55


def test_saliency_losses_notebook(book_html):
    from cxrlib.scorecard import SCORECARD, lookup

    r = _results("02_saliency_losses", book_html)
    assert r["run"]["profile"] == "smoke" and set(r["arms"]) == {"ce", "custom", "modified", "coherence"}
    # the source's untrained full loss (with L_SC) is trained and its convergence recorded
    coherence = r["arms"]["coherence"]
    assert r["lambda_sc"] > 0 and coherence["seeds"] + len(r["diverged"]) == 2
    assert 0 <= coherence["stopped_by_plateau_rule"] <= coherence["seeds"]
    assert coherence["val_loss_best"] <= coherence["val_loss_first_epoch"]
    for row in SCORECARD:  # every scorecard row of this notebook finds its number
        if row.notebook == "02_saliency_losses":
            assert isinstance(lookup({row.notebook: r}, row.notebook, row.key), float), row.key
    for arm in r["arms"].values():
        assert 0.0 <= arm["class_distinctiveness_test"] <= 1.0 + 1e-9
        assert 0.0 <= arm["flat_map_share"] <= 1.0 and arm["seeds"] == 2
        assert arm["epoch_time_over_ce"] > 0
    # the loss is minimised by distinct maps, not by switching them off
    assert r["arms"]["custom"]["class_distinctiveness_test"] < r["arms"]["ce"]["class_distinctiveness_test"]
    assert r["arms"]["custom"]["flat_map_share"] < 0.5


def test_heatmap_loss_notebook(book_html):
    from cxrlib.scorecard import SCORECARD, lookup

    r = _results("03_heatmap_loss", book_html)
    assert r["run"]["profile"] == "smoke" and set(r["experiments"]) == {"exp1", "exp2", "exp3"}
    assert r["run"]["dataset"] == "synth-cmr, synth-cxr" and r["run"]["seeds"] == [0, 1, 2]
    for row in SCORECARD:  # every scorecard row of this notebook finds its effect size, p and group sizes
        if row.notebook == "03_heatmap_loss":
            summary = lookup({row.notebook: r}, row.notebook, row.key)
            assert -1.0 <= float(summary.split(" ")[0]) <= 1.0 and "models)" in summary, row.key
    for name, exp in r["experiments"].items():
        assert exp["models_per_arm"] == 3 and all(0 <= d <= 3 for d in exp["discarded"].values()), name
        # the source's control (CCE) is trained beside w = 0 on SynthCMR; experiment 3 has the two arms only
        assert set(exp["discarded"]) == ({"none", "heatmap loss"} | ({"cce"} if name != "exp3" else set())), name
        assert ("vs_cce" in exp) == (name != "exp3"), name
    # the mask loss moves the shortcut class's map off the marker (that is what it optimises)
    marker = r["experiments"]["exp3"]["map_on_marker"]
    assert marker["median_loss"] < marker["median_none"]


def test_imbalance_losses_notebook(book_html):
    from cxrlib.scorecard import SCORECARD, lookup

    r = _results("04_imbalance_losses", book_html)
    assert r["run"]["profile"] == "smoke" and set(r["losses"]) == {"wbce", "focal", "aucm"}
    rows = [row for row in SCORECARD if row.notebook == "04_imbalance_losses"]
    assert len(rows) == 18  # Table 4.2: CE, Focal and DeepAUC, each mean and per class
    for row in rows:  # every scorecard row of this notebook finds its number
        assert isinstance(lookup({row.notebook: r}, row.notebook, row.key), float), row.key
    for loss in r["losses"].values():
        assert loss["seeds"] == 2 and 0.0 <= loss["mean_auroc"] <= 1.0
        assert -1.0 <= loss["grad_cam_cosine_to_ce"] <= 1.0 + 1e-9
    # AUC-M fine-tunes the CE model of each seed: its training time includes CE's
    assert r["losses"]["aucm"]["train_seconds"] > r["losses"]["wbce"]["train_seconds"]
    assert r["losses"]["wbce"]["auroc_minus_ce_paired"] == 0.0
    sweep = r["sweep"]
    assert sweep["class"] in r["run"]["classes"] and sweep["n_test"] > 0
    for point in sweep["points"]:  # the realised training prevalence is the one asked for
        assert point["train_prevalence"] == pytest.approx(point["prevalence"], abs=1 / sweep["n_train"])
    assert (ROOT / "results" / "artifacts" / "04_imbalance_losses" / "logits.pt").exists()


def test_calibration_notebook(book_html):
    from cxrlib.scorecard import SCORECARD, lookup

    r = _results("05_calibration", book_html)
    assert r["run"]["profile"] == "smoke" and set(r["losses"]) == {"wbce", "focal", "aucm"}
    # the book runs 04 first with the same profile, so 05 calibrates 04's models
    assert r["logits_loaded"] and r["logits_source"].startswith("loaded from 04_imbalance_losses")
    rows = [row for row in SCORECARD if row.notebook == "05_calibration"]
    assert len(rows) == 3
    for row in rows:
        value = lookup({row.notebook: r}, row.notebook, row.key)
        assert isinstance(value, str) and " → " in value, row.key
    for loss in r["losses"].values():
        # a positive temperature keeps every ranking
        assert loss["auroc_after_ts"] == pytest.approx(loss["auroc_before"], abs=1e-12)
        assert loss["auroc_after_per_class_ts"] == pytest.approx(loss["auroc_before"], abs=1e-12)
        # on the validation split, where they were fitted by NLL, the temperatures can only lower it
        assert loss["val_nll_after_ts"] <= loss["val_nll_before"] + 1e-6
        assert loss["val_nll_after_per_class_ts"] <= loss["val_nll_after_ts"] + 1e-6
        before, after = (float(v) for v in loss["ece_15_before_after_ts"].split(" → "))
        assert before == pytest.approx(loss["ece_15_before"], abs=6e-4)
        assert after == pytest.approx(loss["ece_15_after_ts"], abs=6e-4)
        assert loss["temperature_global"] > 0
    mimo = r["mimo"]
    assert mimo["members"] == 3
    assert mimo["mimo"]["forward_passes_per_image"] == mimo["single"]["forward_passes_per_image"] == 1
    assert mimo["ensemble"]["forward_passes_per_image"] == 3
    assert mimo["ensemble"]["parameters"] == 3 * mimo["single"]["parameters"]
    # one forward pass, not three: MIMO's test-time cost stays well below the ensemble's
    assert mimo["mimo"]["time_over_single"] < mimo["ensemble"]["time_over_single"]


def test_defer_notebook(book_html):
    from cxrlib.scorecard import SCORECARD, lookup

    r = _results("07_defer", book_html)
    assert r["run"]["profile"] == "smoke" and r["classes"] == ["Pleural Effusion", "Pneumothorax", "Edema"]
    assert min(r["run"][f"n_{split}"] for split in ("train", "error", "val", "test")) > 100
    rows = [row for row in SCORECARD if row.notebook == "07_defer"]
    assert len(rows) == 2
    for row in rows:  # coverage and kept-set accuracy of the error model at c = 0.2
        assert 0.0 < lookup({row.notebook: r}, row.notebook, row.key) <= 1.0, row.key
    assert r["cost"] == 0.2 and {"error-model", "confidence", "mc-dropout", "surrogate"} <= set(r["rules"])
    for name, rule in r["rules"].items():
        assert 0.0 <= rule["coverage_at_c"] <= 1.0 and 0.0 <= rule["aurc"] <= 1.0, name
        coverage = rule["sweep"]["coverage"]
        assert len(coverage) == 49 and all(b >= a - 1e-12 for a, b in zip(coverage, coverage[1:])), name
    # acceptance: the error model's kept decisions are more accurate than no deferral at every coverage < 1
    em, full = r["rules"]["error-model"]["sweep"], r["accuracy_no_deferral"]
    points = [acc for cov, acc in zip(em["coverage"], em["kept_accuracy"]) if acc is not None and cov < 1.0]
    assert len(points) > 10 and min(points) > full
    assert r["error_model_vs_no_deferral"]["at_every_coverage_below_1"]
    # balancing shifts P(wrong) up; undoing the prior shift brings it back down
    balance = r["balance"]
    assert balance["balanced"]["mean_p_wrong"] > balance["unbalanced"]["mean_p_wrong"]
    assert balance["balanced_prior_corrected"]["mean_p_wrong"] < balance["balanced"]["mean_p_wrong"]
    # the weak clinician is weaker on its class only; every rule is scored with it there
    weak = r["weak_clinician"]
    assert weak["class"] == "Pneumothorax" and weak["clinician_accuracy"] < weak["usual_clinician_accuracy"]
    for name, rule in weak["rules"].items():
        assert 0.0 <= rule["system_accuracy_at_c_weak"] <= 1.0 and 0.0 <= rule["coverage_at_c_weak"] <= 1.0, name


def test_pylon_notebook(book_html):
    from cxrlib.scorecard import SCORECARD, lookup

    r = _results("08_pylon", book_html)
    assert r["run"]["profile"] == "smoke" and r["run"]["n_test"] > 50 and r["encoder"] == "resnet18"
    assert set(r["models"]) == {"pylon", "gmp"}
    size = r["image_size"]
    assert r["models"]["pylon"]["map_grid"] == [size // 4, size // 4]  # PYLON: a quarter of the input
    assert r["models"]["gmp"]["map_grid"] == [size // 32, size // 32]
    classes = {"Atelectasis", "Cardiomegaly", "Pleural Effusion", "Infiltration", "Mass", "Nodule", "Pneumothorax"}
    for m in r["models"].values():
        assert set(m["point_localization_per_class"]) == classes == set(m["per_class_auroc"])
        for key in ("point_localization_weighted", "point_localization_macro", "auroc_weighted", "auroc_macro"):
            assert 0.0 <= m[key] <= 1.0, key
    assert "Nodule" in r["small_lesion_classes"] and "Cardiomegaly" not in r["small_lesion_classes"]
    assert isinstance(r["small_lesions"]["pylon_beats_gmp"], bool)
    # the scorecard rows of the models the smoke profile trains are filled
    rows = [row for row in SCORECARD if row.notebook == "08_pylon"]
    filled = [row for row in rows if lookup({"08_pylon": r}, row.notebook, row.key) is not None]
    assert {row.key.split(".")[1] for row in filled} == {"pylon", "gmp"}
    assert all(0.0 <= lookup({"08_pylon": r}, row.notebook, row.key) <= 1.0 for row in filled)


def test_pylon_ablations_notebook(book_html):
    from cxrlib.scorecard import SCORECARD, lookup

    r = _results("09_pylon_ablations", book_html)
    assert r["run"]["profile"] == "smoke" and r["run"]["n_test"] > 30
    assert {"pylon-up1", "pylon-up1+gap-pa", "pylon-up1+gap-up"} <= set(r["models"])  # Table 6.1 (B), on UP1
    for m in r["models"].values():
        assert 0.0 <= m["point_localization_weighted"] <= 1.0 and 0.0 <= m["auroc_macro"] <= 1.0
    base = r["models"]["pylon-up1"]
    assert (
        base["seeds"] >= 2
        and -1.0 <= base["seed_map_agreement"] <= 1.0
        and " ± " in base["point_localization_weighted_text"]
    )
    # the transfer started from notebook 08's saved weights (the runner executes 08 first)
    assert "08_pylon" in r["source_weights"]
    arms = r["transfer"]["arms"]
    assert set(arms) == {
        "gmp (scratch)",
        "pylon (scratch)",
        "gmp (fine-tuned)",
        "pylon (fine-tuned)",
        "pylon (two-phase)",
    }
    assert all(0.0 <= a["point_localization_macro"] <= 1.0 for a in arms.values())
    rows = [row for row in SCORECARD if row.notebook == "09_pylon_ablations"]
    table55 = [row for row in rows if row.table == "Table 5.5"]
    filled = [row for row in table55 if lookup({"09_pylon_ablations": r}, row.notebook, row.key) is not None]
    assert len(table55) == 7 and len(filled) == 5  # Li 2018 and FPN without transfer: `full` only
    assert {row.row for row in table55} - {row.row for row in filled} == {"Li 2018 (VinDr)", "FPN (BN) (VinDr)"}


def test_laplace_notebook(book_html):
    from cxrlib.scorecard import SCORECARD, lookup

    r = _results("06_laplace", book_html)
    assert r["run"]["profile"] == "smoke" and r["run"]["n_test"] > 50 and r["prior_fit"] == "cv"
    # Table 1 by the source's cross-validation, the marginal likelihood's choice as the extra rows
    assert set(r["table1"]) == {"map", "diag", "full", "kron", "diag_marglik", "full_marglik", "kron_marglik"}
    for name, m in r["table1"].items():
        assert 1 / 7 < m["accuracy"] <= 1.0 and 0.0 <= m["ECE"] <= 1.0 and m["NLL"] > 0.0, name
        if name != "map":
            assert m["fit_seconds"] > 0 and m["optimise_seconds"] > 0 and m["prior_precision"] > 0
            assert m["fit_with_forward_pass_seconds"] > m["fit_seconds"]
            assert m["prior_fit"] == ("marglik" if name.endswith("marglik") else "cv")
    # every S5 scorecard row is filled with a string of the paper's form
    rows = [row for row in SCORECARD if row.notebook == "06_laplace"]
    assert len(rows) == 4
    for row in rows:
        value = lookup({"06_laplace": r}, row.notebook, row.key)
        assert isinstance(value, str) and value.count("/") == 2 and ("; " in value) == ("; " in row.paper)
    # by construction: the Bernoulli probit sigma(kappa mu), kappa > 0, never moves a probability across 1/2
    assert r["multilabel"]["same_side_of_half"] is True
    assert set(r["multilabel"]["mean"]) == {"MAP", "Laplace (full, probit)", "temperature scaling"}
    assert r["multilabel"]["temperature"] > 0
    for m in r["ood"].values():
        assert 0.0 <= m["AUROC"] <= 1.0 and 0.0 <= m["entropy_MSK_test"] <= 1.95 + 1e-6
    page = (book_html / "book" / "notebooks" / "06_laplace.html").read_text()
    assert "source / ours" in page and "Against the source" in page  # the source's Table 1 beside ours


def test_executed_copies_have_outputs_and_figures(book_html):
    import nbformat

    for name in (
        "00_data",
        "01_baseline",
        "02_saliency_losses",
        "03_heatmap_loss",
        "04_imbalance_losses",
        "05_calibration",
        "06_laplace",
        "07_defer",
        "08_pylon",
        "09_pylon_ablations",
    ):
        nb = nbformat.read(ROOT / "book" / "notebooks" / f"{name}.ipynb", as_version=4)
        images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert images and not errors
        if name == "00_data":
            assert len(images) >= 4  # gallery, label distribution, real NIH images, SynthCXR beside them


def test_reliability_report_notebook(book_html):
    import nbformat

    r = _results("10_reliability_report", book_html)
    assert r["run"]["profile"] == "smoke" and r["backbone"] == "densenet121"
    # the runner executes 01 first, and 10 reports on the model 01 saved rather than training its own
    assert r["model_source"].startswith("loaded from notebook 01_baseline")
    test, nih = r["reports"]["test split"], r["reports"]["NIH sample"]
    assert test["images"] == r["run"]["n_test"] and nih["images"] == 21
    assert not test["absent"], f"SynthCXR should fill every section: {test['absent']}"
    assert set(nih["absent"]) == {"subgroups", "shortcut"}
    assert 0.0 <= test["mean_auroc_low"] <= test["mean_auroc"] <= test["mean_auroc_high"] <= 1.0
    assert test["recalibrations"] == 3 and test["ece_best"] <= test["ece_model"]
    assert 0.0 <= test["point_localization"] <= 1.0 and 0.0 <= test["outside_thorax_share"] <= 1.0
    assert all(Path(f).exists() for files in r["files"].values() for f in files.values())
    # the reports render inline, figures embedded, and no figure is shown a second time as a cell image
    nb = nbformat.read(ROOT / "book" / "notebooks" / "10_reliability_report.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error" or "image/png" in o.get("data", {})]
    inline = [o["data"]["text/html"] for o in outputs if 'class="cxr-report"' in o.get("data", {}).get("text/html", "")]
    assert len(inline) == 2 and all("data:image/png;base64," in h for h in inline)


def test_each_smoke_notebook_stays_within_twice_its_budget(book_html):
    """Budget on this 2-core machine: 90 s per notebook on the smoke profile; a run over 2× fails."""
    runner = json.loads((ROOT / "results" / "_runner.json").read_text())
    assert runner["profile"] == "smoke"
    slow = {name: round(s) for name, s in runner["seconds"].items() if s > 2 * 90}
    assert not slow, f"smoke notebooks over 2× their 90 s budget: {slow}"


def test_no_page_shows_a_bookkeeping_cell_or_a_warning(book_html):
    # what a reader should not see: the cells that only record results, and warnings with build paths
    for name in NOTEBOOKS:
        page = (book_html / "book" / "notebooks" / f"{name}.html").read_text()
        assert "record_results(" not in page and "save_weights()" not in page, name
        assert "Warning:" not in page and "site-packages" not in page, name


def test_the_scorecard_knows_every_runs_dataset_and_seeds(book_html):
    page = (book_html / "book" / "scorecard.html").read_text()
    assert "dataset not recorded" not in page and "seeds not recorded" not in page


def test_no_page_points_at_a_binder_repository_or_loads_thebe(book_html):
    # Jupyter Book's sphinx-thebe defaults named an unrelated public repository on every page
    for page in [*(book_html / "book").glob("*.html"), *(book_html / "book" / "notebooks").glob("*.html")]:
        text = page.read_text()
        assert "x-thebe-config" not in text and "binder-examples" not in text and "THEBE_JS_URL" not in text, page.name


def _rendered_tables(book_html, name):
    import re

    page = (book_html / "book" / "notebooks" / f"{name}.html").read_text()
    return re.findall(r"<table.*?</table>", page, flags=re.S)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_table_shows_nan_cells_or_a_default_integer_index(book_html, name):
    import re

    for table in _rendered_tables(book_html, name):
        cells = re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", table)
        assert not [c for c in cells if c in ("NaN", "nan", "None", "True", "False")], f"{name}: {cells[:12]}"
        body = table.split("<tbody>", 1)[1] if "<tbody>" in table else ""
        index = re.findall(r"<tr>\s*<th[^>]*>\s*([^<]*?)\s*</th>", body)
        default = len(index) > 1 and index == [str(i) for i in range(len(index))]
        assert not default, f"{name}: a table with the default integer index 0..{len(index) - 1}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_headers_name_options_as_the_tables_do(book_html, name):
    """Run headers listed `wbce, aucm`, `error-model-probs`, `pylon-no-pyramid`, `ce, custom`: parameter
    keys, where the tables say CE, AUC-M, error model (probs only)... Every option a header lists must be
    given its reader's name (``describe_run(names=...)``)."""
    from cxrlib.defer import Rule
    from cxrlib.studies.defer.settings import RULE_LABELS
    from cxrlib.studies.imbalance_losses import LOSS_LABELS, Loss
    from cxrlib.studies.pylon import VARIANT_LABELS, VARIANTS
    from cxrlib.studies.saliency_losses.settings import Arm

    keys = {*(r.value for r in Rule), *(loss.value for loss in Loss), *VARIANTS, *(a.value for a in Arm)}
    keys -= {*RULE_LABELS.values(), *LOSS_LABELS.values(), *VARIANT_LABELS.values()}  # "confidence" is both
    run = _results(name, book_html).get("run", {})
    shown = {k: v for k, v in run.items() if k in ("losses", "rules", "models", "ablations", "arms")}
    raw = {k: [x for x in (v if isinstance(v, list) else [v]) if x in keys] for k, v in shown.items()}
    assert not any(raw.values()), f"{name}: run header lists parameter keys {raw}"
