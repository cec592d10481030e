"""The reproduction scorecard: every paper table of STUDIES.md, the paper's value beside ours.

Paper values are the published numbers (the targets); ours come only from the results files the
executed notebooks write (``results/<notebook>.json``). A row whose notebook has not been run shows
"not yet run". The page says how many rows are filled, links each notebook, shows the configuration
of every run behind our numbers (the results file's ``run`` dict, or its top-level keys in older
files), and flags where one of our runs stands in for two different set-ups of a paper.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .performance import format_duration

__all__ = [
    "Study",
    "STUDIES",
    "ScorecardRow",
    "SCORECARD",
    "DECIMALS",
    "lookup",
    "run_config",
    "format_value",
    "describe_run",
    "shared_runs",
    "scorecard_markdown",
]

#: decimals of our numbers on the page, as the notebooks print them
DECIMALS = 3


@dataclass(frozen=True)
class Study:
    """One study of STUDIES.md: where it comes from and which notebooks reproduce it."""

    id: str
    title: str
    sources: tuple[str, ...]  #: bib keys (book/references.bib): the source document first, then published work
    sections: str  #: where in the source document
    notebooks: tuple[str, ...]  #: notebook names (notebooks/<name>.ipynb), existing or planned


STUDIES: list[Study] = [
    Study(
        "S1",
        "Interpretability-guided inductive bias (class distinctiveness, spatial coherence)",
        ("sharma2023reliable", "selvaraju2017gradcam"),
        "ch. 3.1–3.3, 4.3–4.5",
        ("01_baseline", "02_saliency_losses"),
    ),
    Study(
        "S2",
        "Heatmap loss against dataset bias",
        ("anonymous_heatmap_loss", "draelos2020hirescam"),
        "",
        ("03_heatmap_loss",),
    ),
    Study(
        "S3",
        "Class-imbalance losses (weighted CE, focal, AUC maximisation)",
        ("sharma2023reliable", "lin2017focal", "yuan2021deepauc"),
        "ch. 3.4, 4.6",
        ("01_baseline", "04_imbalance_losses"),
    ),
    Study(
        "S4",
        "Calibration: ECE, temperature scaling, MIMO",
        ("sharma2023reliable", "guo2017calibration", "naeini2015ece", "havasi2021mimo"),
        "ch. 3.5–3.6, 4.7",
        ("05_calibration",),
    ),
    Study(
        "S5",
        "Bayesian last layer by Laplace approximation",
        ("vilter_bayesian_xray", "daxberger2021laplace"),
        "",
        ("06_laplace",),
    ),
    Study("S6", "Learning to defer with Grad-CAM", ("levin_defer_gradcam", "mozannar2020defer"), "", ("07_defer",)),
    Study(
        "S7",
        "PYLON: high-resolution, accurate CAM",
        ("preechakul2020redesigning", "preechakul2022pylon"),
        "",
        ("08_pylon", "09_pylon_ablations"),
    ),
]


@dataclass(frozen=True)
class ScorecardRow:
    study: str
    table: str
    row: str
    metric: str
    paper: str
    notebook: str | None = None  #: results file that fills "ours"
    key: str | None = None  #: dotted path inside that file
    setup: str = ""  #: the paper's set-up for this number, where two rows share one run of ours


_IMBALANCE = "04_imbalance_losses"
_PYLON = "08_pylon"
_PYLON_II = "09_pylon_ablations"
SCORECARD: list[ScorecardRow] = [
    ScorecardRow(
        "S1", "Table 4.1", "CE (weighted BCE)", "mean val AUROC", "0.756", "02_saliency_losses", "arms.ce.mean_auroc"
    ),
    ScorecardRow(
        "S1",
        "Table 4.1",
        "Custom (CE + class distinctiveness)",
        "mean val AUROC",
        "0.745",
        "02_saliency_losses",
        "arms.custom.mean_auroc",
    ),
    ScorecardRow(
        "S1",
        "Table 4.1",
        "Modified (two-stage)",
        "mean val AUROC",
        "0.749",
        "02_saliency_losses",
        "arms.modified.mean_auroc",
    ),
    ScorecardRow(
        "S2",
        "Exp. 1",
        "heatmap loss vs none: heart overlap",
        "Mann-Whitney p",
        "≈1e-9",
        "03_heatmap_loss",
        "experiments.exp1.heart_overlap.mann_whitney_p",
    ),
    ScorecardRow(
        "S2",
        "Exp. 2",
        "heatmap loss vs none: heart overlap",
        "Mann-Whitney p",
        "≈1e-8",
        "03_heatmap_loss",
        "experiments.exp2.heart_overlap.mann_whitney_p",
    ),
    ScorecardRow(
        "S2",
        "Exp. 2",
        "heatmap loss vs none: sex-label overlap",
        "Mann-Whitney p",
        "≈1e-7",
        "03_heatmap_loss",
        "experiments.exp2.marker_overlap_male.mann_whitney_p",
    ),
    ScorecardRow("S3", "Table 4.2", "CE", "mean val AUROC", "0.8841", _IMBALANCE, "losses.wbce.mean_auroc"),
    *(
        ScorecardRow("S3", "Table 4.2", f"CE {c}", "val AUROC", paper, _IMBALANCE, f"losses.wbce.per_class_auroc.{c}")
        for c, paper in (
            ("Atelectasis", "0.8350"),
            ("Cardiomegaly", "0.9032"),
            ("Consolidation", "0.9120"),
            ("Edema", "0.8489"),
            ("Pleural Effusion", "0.9217"),
        )
    ),
    ScorecardRow("S3", "Table 4.2", "Focal", "mean val AUROC", "0.8867", _IMBALANCE, "losses.focal.mean_auroc"),
    ScorecardRow(
        "S3", "Table 4.2", "DeepAUC (AUCM + PESG)", "mean val AUROC", "0.8291", _IMBALANCE, "losses.aucm.mean_auroc"
    ),
    *(
        ScorecardRow(
            "S4",
            "Table 4.3",
            row,
            "mean ECE before → after TS",
            paper,
            "05_calibration",
            f"losses.{loss}.ece_15_before_after_ts",
        )
        for row, loss, paper in (
            ("CE", "wbce", "0.1147 → 0.0996"),
            ("Focal", "focal", "0.1763 → 0.1091"),
            ("DeepAUC", "aucm", "0.2348 → 0.0992"),
        )
    ),
    ScorecardRow(
        "S5", "Table 1", "CNN", "acc / ECE / NLL", "0.87519 / 0.07406 / 0.6465", "06_laplace", "table1.map.summary"
    ),
    ScorecardRow(
        "S5",
        "Table 1",
        "Laplace diag",
        "acc / ECE / NLL; fit, optimise (h)",
        "0.87550 / 0.07269 / 0.5997; 0.072, 0.546",
        "06_laplace",
        "table1.diag.summary",
    ),
    ScorecardRow(
        "S5",
        "Table 1",
        "Laplace full",
        "acc / ECE / NLL; fit, optimise (h)",
        "0.87519 / 0.03033 / 0.4667; 0.063, 0.351",
        "06_laplace",
        "table1.full.summary",
    ),
    ScorecardRow(
        "S5",
        "Table 1",
        "Laplace Kron",
        "acc / ECE / NLL; fit, optimise (h)",
        "0.87519 / 0.02774 / 0.4751; 0.074, 0.709",
        "06_laplace",
        "table1.kron.summary",
    ),
    ScorecardRow(
        "S6",
        "—",
        "Grad-CAM error model, c = 0.2",
        "coverage (share of decisions kept)",
        "none reported",
        "07_defer",
        "rules.error-model.coverage_at_c",
    ),
    ScorecardRow(
        "S6",
        "—",
        "Grad-CAM error model, c = 0.2",
        "accuracy of the kept decisions",
        "none reported",
        "07_defer",
        "rules.error-model.kept_accuracy_at_c",
    ),
    *[
        ScorecardRow(
            "S7",
            "Table 5.1",
            label,
            "weighted point loc. acc.",
            paper,
            _PYLON,
            f"models.{model}.point_localization_weighted",
            setup="NIH, 256 px",
        )
        for label, paper, model in (
            ("GMP baseline", "0.46", "gmp"),
            ("Li 2018 (MIL)", "0.49", "li2018"),
            ("U-Net", "0.45", "unet"),
            ("FPN (BN)", "0.53", "fpn"),
            ("DeepLabV3+", "0.45", "deeplabv3plus"),
            ("PAN", "0.38", "pan"),
            ("PYLON", "0.62", "pylon"),
        )
    ],
    ScorecardRow(
        "S7",
        "Table 5.1",
        "GMP baseline: Nodule",
        "point loc. acc.",
        "0.09",
        _PYLON,
        "models.gmp.point_localization_per_class.Nodule",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.1",
        "PYLON: Nodule",
        "point loc. acc.",
        "0.48",
        _PYLON,
        "models.pylon.point_localization_per_class.Nodule",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.3",
        "GMP baseline (512 px)",
        "weighted point loc. acc.",
        "0.58",
        _PYLON,
        "models.gmp.point_localization_weighted",
        setup="NIH, 512 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.3",
        "PYLON (512 px)",
        "weighted point loc. acc.",
        "0.65",
        _PYLON,
        "models.pylon.point_localization_weighted",
        setup="NIH, 512 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.4",
        "GMP baseline",
        "weighted AUROC",
        "0.795",
        _PYLON,
        "models.gmp.auroc_weighted",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.4",
        "Li 2018 (MIL)",
        "weighted AUROC",
        "0.796",
        _PYLON,
        "models.li2018.auroc_weighted",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.4",
        "FPN (BN)",
        "weighted AUROC",
        "0.795",
        _PYLON,
        "models.fpn.auroc_weighted",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.4",
        "PYLON",
        "weighted AUROC",
        "0.794",
        _PYLON,
        "models.pylon.auroc_weighted",
        setup="NIH, 256 px",
    ),
    *[
        ScorecardRow(
            "S7",
            "Table 5.5",
            label,
            "macro point loc. acc.",
            paper,
            _PYLON_II,
            f"transfer.arms.{arm}.point_localization_macro",
            setup="NIH → VinDr-CXR, 256 px; ours: SynthCXR → a shifted SynthCXR set labelled by 3 simulated readers",
        )
        for label, paper, arm in (
            ("GMP baseline (VinDr)", "0.31", "gmp (scratch)"),
            ("PYLON (VinDr)", "0.42", "pylon (scratch)"),
            ("PYLON fine-tuned from NIH", "0.48", "pylon (fine-tuned)"),
            ("PYLON two-phase transfer", "0.55", "pylon (two-phase)"),
        )
    ],
    *[
        ScorecardRow(
            "S7",
            "Table 6.2",
            label,
            "weighted point loc. acc.",
            paper,
            _PYLON_II,
            f"models.{model}.point_localization_weighted",
            setup="the thesis's ablations are PYLON with one UP module; ours keep all three",
        )
        for label, paper, model in (
            ("PYLON", "0.62", "pylon"),
            ("PYLON (UP1) no pyramid", "0.60 (vs 0.62)", "pylon-no-pyramid"),
            ("PYLON (UP1) Conv3×3 UP", "0.59 (vs 0.62)", "pylon-3x3-up"),
            ("PYLON (UP1) 3×3 head", "0.57 (vs 0.62)", "pylon-3x3-head"),
        )
    ],
    *[
        ScorecardRow(
            "S7",
            "Table 6.1",
            label,
            "s.d. of weighted point loc. acc. over seeds",
            "higher with GAP (no number)",
            _PYLON_II,
            f"models.{model}.point_localization_weighted_sd",
            setup="the thesis: PYLON (UP1) with GAP added to PA or UP, NIH",
        )
        for label, model in (
            ("PYLON", "pylon"),
            ("PYLON + GAP in PA", "pylon+gap-pa"),
            ("PYLON + GAP in UP", "pylon+gap-up"),
        )
    ],
]


_MISSING = object()


def _find(results: dict[str, dict], notebook: str | None, key: str | None) -> Any:
    if notebook is None or key is None or notebook not in results:
        return _MISSING
    node: Any = results[notebook]
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def lookup(results: dict[str, dict], notebook: str | None, key: str | None) -> Any:
    """Value at ``key`` (dotted) in ``results[notebook]``, or None if absent."""
    value = _find(results, notebook, key)
    return None if value is _MISSING else value


def format_value(value: Any, decimals: int = DECIMALS) -> str:
    """Our number as the page prints it: floats to ``decimals`` places (a nonzero float too small to
    show there, e.g. a p-value, in scientific notation), None/NaN as "undefined"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value != 0 and abs(value) < 0.5 * 10**-decimals:
            return f"{value:.1e}"
        return f"{value:.{decimals}f}"
    return str(value)


#: the run configuration: keys of the ``run`` dict a notebook writes (older files: top-level keys)
RUN_FIELDS = (
    "dataset",
    "profile",
    "image_size",
    "epochs",
    "n_train",
    "n_val",
    "n_test",
    "seeds",
    "pretrained",
    "device",
    "wall_seconds",
    "cxrlib_version",
)


def run_config(result: dict) -> dict[str, Any]:
    """The configuration of one notebook's run: its ``run`` dict when present, else the top-level keys.

    Keys missing from both are left out.
    """
    run = result.get("run") if isinstance(result.get("run"), dict) else {}
    config = {}
    for key in RUN_FIELDS:
        if key in run:
            config[key] = run[key]
        elif key in result and not isinstance(result[key], dict):
            config[key] = result[key]
    if "seeds" not in config:  # a study with several groups of seeds (09: gap, ablation, transfer)
        config.update({k: v for k, v in run.items() if k.endswith("_seeds") and isinstance(v, (list, tuple))})
    return config


def describe_run(config: dict[str, Any]) -> str:
    """One line for a run configuration, e.g. ``synth-cxr, smoke profile, 64 px, 4 epochs, ...``.

    Every known key is named, so a reader sees what is missing ("epochs not recorded"); a run
    recorded by the run header (it names the cxrlib version) without epochs trained nothing, and
    its epochs and seeds are left out rather than called missing.
    """

    def has(key):
        return config.get(key) not in (None, "", [])

    trains = "epochs" in config or not has("cxrlib_version")

    parts = [
        f"dataset {config['dataset']}" if has("dataset") else "dataset not recorded",
        f"{config['profile']} profile" if has("profile") else "profile not recorded",
        f"{config['image_size']} px" if has("image_size") else "image size not recorded",
    ]
    if trains:
        parts.append(f"{config['epochs']} epochs" if has("epochs") else "epochs not recorded")
    sizes = [(name, config.get(f"n_{name}")) for name in ("train", "val", "test")]
    known = [f"{value} {name}" for name, value in sizes if value is not None]
    parts.append("images: " + ", ".join(known) if known else "split sizes not recorded")
    if has("seeds"):
        seeds = config["seeds"]
        seeds = list(seeds) if isinstance(seeds, (list, tuple)) else [seeds]
        parts.append(f"seed{'s' if len(seeds) != 1 else ''} {', '.join(str(s) for s in seeds)}")
    elif any(key.endswith("_seeds") and has(key) for key in config):
        parts.append(
            "seeds "
            + "; ".join(
                f"{key.removesuffix('_seeds').replace('_', ' ')} {', '.join(str(v) for v in config[key])}"
                for key in config
                if key.endswith("_seeds") and has(key)
            )
        )
    elif trains:
        parts.append("seeds not recorded")
    if has("pretrained"):
        parts.append("ImageNet-pretrained" if config["pretrained"] else "trained from scratch")
    if has("device"):
        parts.append(f"on {config['device']}")
    if has("wall_seconds"):
        parts.append(format_duration(float(config["wall_seconds"])))
    if has("cxrlib_version"):
        parts.append(f"cxrlib {config['cxrlib_version']}")
    return ", ".join(parts)


def shared_runs(results: dict[str, dict], rows: list[ScorecardRow] | None = None) -> list[list[ScorecardRow]]:
    """Groups of filled rows (two or more) whose "ours" is the same number of the same run.

    Each group is one run of ours standing in for several paper set-ups.
    """
    groups: dict[tuple[str, str], list[ScorecardRow]] = defaultdict(list)
    for r in rows if rows is not None else SCORECARD:
        if _find(results, r.notebook, r.key) is not _MISSING:
            groups[(r.notebook, r.key)].append(r)
    return [g for g in groups.values() if len(g) > 1]


def _notebook_link(name: str, executed: set[str], notebooks: set[str]) -> str:
    """A link to the executed notebook; otherwise its name and why there is no page."""
    if name in executed:
        return f"{{doc}}`{name} <notebooks/{name}>`"
    return f"{name} (not run in this build)" if name in notebooks else f"{name} (planned)"


def _cite(keys: tuple[str, ...]) -> str:
    return "{cite:p}`" + ",".join(keys) + "`"


def scorecard_markdown(
    results: dict[str, dict], notebooks: list[str] | None = None, executed: list[str] | None = None
) -> str:
    """The scorecard as a MyST page.

    ``results``: notebook name → its results dict (``results/<name>.json``); names starting with
    ``_`` (the runner's own files) are ignored. ``notebooks``: the notebooks the book has (default:
    every notebook with results); ``executed``: those with an executed copy in ``book/notebooks/``,
    which get a link (default: ``notebooks``). Other notebook names are marked "planned".
    """
    results = {k: v for k, v in results.items() if not k.startswith("_")}
    book_notebooks = set(notebooks if notebooks is not None else results)
    available = set(executed if executed is not None else book_notebooks)

    def link(name: str) -> str:
        return _notebook_link(name, available, book_notebooks)

    filled_rows = [r for r in SCORECARD if _find(results, r.notebook, r.key) is not _MISSING]
    shared = shared_runs(results)
    shared_ids = {id(r): i for i, g in enumerate(shared, 1) for r in g}
    lines = [
        "# Reproduction scorecard",
        "",
        f"**{len(filled_rows)} of {len(SCORECARD)} rows filled** in this build. Every table of the source "
        "documents ({ref}`the studies and their sources <studies-table>`) has a row here: the paper's "
        "number beside ours. Rows that no notebook fills yet say so.",
        "",
        "*Ours* is read from the results file that the executed notebook wrote in this build, printed to "
        f"{DECIMALS} decimals as in the notebooks. The configuration of each run is in "
        "{ref}`the table of runs <scorecard-runs>` below: a synthetic-data run on a CPU profile is not "
        "the paper's setting, and its numbers are not expected to match. Where the paper reports a "
        "validation AUROC, ours is measured on the held-out test split.",
        "",
    ]
    if shared:
        lines += [
            "```{warning}",
            "One run of ours stands in for more than one set-up of a paper (marked † in the tables):",
            "",
        ]
        for i, group in enumerate(shared, 1):
            what = "; ".join(
                f"{r.study} {r.table} “{r.row}” (paper {r.paper}" + (f", {r.setup}" if r.setup else "") + ")"
                for r in group
            )
            lines.append(
                f"- †{i}: {what} {'both' if len(group) == 2 else 'all'} show one number of ours, the "
                f"{group[0].metric} of notebook {group[0].notebook}. "
                "The paper's numbers differ because its set-ups differ; ours is one number."
            )
        lines += ["```", ""]
    by_study = {s.id: s for s in STUDIES}
    for study_id in dict.fromkeys(r.study for r in SCORECARD):
        study = by_study.get(study_id)
        rows = [r for r in SCORECARD if r.study == study_id]
        n_filled = sum(1 for r in rows if r in filled_rows)
        if study is not None:
            lines += [
                f"## {study.id}: {study.title}",
                "",
                f"Source: {_cite(study.sources)}{', ' + study.sections if study.sections else ''}. "
                f"Notebooks: {', '.join(link(n) for n in study.notebooks)}. "
                f"{n_filled} of {len(rows)} rows filled.",
                "",
            ]
        else:
            lines += [f"## {study_id}", ""]
        lines += ["| table | row | metric | paper | ours (test split) | notebook |", "|---|---|---|---|---|---|"]
        for r in rows:
            value = _find(results, r.notebook, r.key)
            if value is _MISSING:
                ours = "not yet run"
            else:
                ours = format_value(value)
                if id(r) in shared_ids:
                    ours += f" †{shared_ids[id(r)]}"
            notebook = link(r.notebook) if r.notebook else "—"
            lines.append(f"| {r.table} | {r.row} | {r.metric} | {r.paper} | {ours} | {notebook} |")
        lines.append("")
    lines += ["(scorecard-runs)=", "## The runs behind our numbers", ""]
    if not results:
        lines += ["No notebook has written results in this build.", ""]
    else:
        lines += ["From each notebook's results file (its `run` record where the notebook writes one).", ""]
        for name in sorted(results):
            lines.append(f"- {link(name)}: {describe_run(run_config(results[name]))}.")
        lines.append("")
    return "\n".join(lines)
