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
from typing import Any

from .performance_format import format_duration
from .scorecard_rows import SCORECARD, STUDIES, ScorecardRow, Study

__all__ = [
    "Study",
    "STUDIES",
    "ScorecardRow",
    "SCORECARD",
    "DECIMALS",
    "NOT_IN_RUN",
    "lookup",
    "run_config",
    "format_value",
    "describe_run",
    "shared_runs",
    "interval",
    "with_interval",
    "seed_count",
    "comparable",
    "verdict",
    "scale_reason",
    "scorecard_markdown",
]

#: decimals of our numbers on the page, as the notebooks print them
DECIMALS = 3
#: "ours" for a row whose notebook ran but whose settings leave the row's arm or model out
NOT_IN_RUN = "not in this run (its settings leave it out)"

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


def interval(results: dict[str, dict], notebook: str | None, key: str | None) -> float | None:
    """The 95 % half-width stored beside our number: ``<key>_ci95`` or, for a value inside a per-class
    mapping, ``<mapping>_ci95.<class>``; None where there is none (one seed, or not recorded)."""
    if key is None:
        return None
    parts = key.split(".")
    candidates = [".".join([*parts[:-1], parts[-1] + "_ci95"])]
    if len(parts) > 1:
        candidates.append(".".join([*parts[:-2], parts[-2] + "_ci95", parts[-1]]))
    for candidate in candidates:
        value = lookup(results, notebook, candidate)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None


def with_interval(value: Any, half: float | None, bounded: bool = True) -> str:
    """Our number with its 95 % half-width, ``0.790 ± 0.012``; for a ``bounded`` metric (AUROC, an
    accuracy, ECE, a p-value: all in [0, 1]) an interval that reaches past 0 or 1 is shown clipped,
    ``0.529 [0.000, 1.000]``."""
    if half is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return format_value(value)
    low, high = value - half, value + half
    if bounded and 0.0 <= value <= 1.0 and (low < 0.0 or high > 1.0):
        return f"{format_value(float(value))} [{format_value(max(0.0, low))}, {format_value(min(1.0, high))}]"
    return f"{format_value(value)} ± {format_value(half)}"


def seed_count(config: dict[str, Any]) -> int | None:
    """Training seeds behind a run's numbers (None where the run names several groups or none)."""
    seeds = config.get("seeds")
    if seeds in (None, "", []):
        return None
    return len(seeds) if isinstance(seeds, (list, tuple)) else 1


def comparable(study: Study | None, config: dict[str, Any]) -> bool:
    """Whether a run of ours is the paper's setting: the paper's data (a dataset of ``study.datasets``)
    at the ``full`` profile. Anything else differs in data or scale, and its numbers are not compared."""
    return bool(study and config.get("dataset") in study.datasets and config.get("profile") == "full")


def verdict(paper: str, ours: Any, half: float | None, is_comparable: bool) -> str:
    """``agrees`` when the paper's number lies inside our 95 % interval, ``differs`` when outside;
    ``not comparable`` for a run on other data or at another scale, ``no interval`` without one,
    ``no paper number`` where the paper gives none (or several in one cell)."""
    try:
        target = float(paper)
    except ValueError:
        return "no paper number" if is_comparable else "not comparable"
    if not is_comparable:
        return "not comparable"
    if half is None or not isinstance(ours, (int, float)):
        return "no interval"
    return "agrees" if abs(float(ours) - target) <= half else "differs"


def scale_reason(study: Study, configs: dict[str, dict[str, Any]]) -> str:
    """Why a study's rows are not comparable: our runs' data and scale against the paper's."""
    ours = []
    for name, config in configs.items():
        size = f", {config['image_size']} px" if config.get("image_size") else ""
        train = f", {config['n_train']} training images" if config.get("n_train") else ""
        ours.append(f"{name} ran on {config.get('dataset', '?')}{size}{train}, {config.get('profile', '?')} profile")
    return (
        "*Not comparable*: " + "; ".join(ours) + f". The paper: {study.paper_data or 'its own data'}. "
        "A verdict (agrees: the paper's number inside our 95 % interval; differs: outside) needs the paper's data "
        "at the `full` profile."
    )


def _notebook_link(name: str, executed: set[str], notebooks: set[str], label: str | None = None) -> str:
    """A link to the executed notebook, shown as ``label`` (default: its name); otherwise its name and
    why there is no page."""
    if name in executed:
        return f"{{doc}}`{label or name} <notebooks/{name}>`"
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

    def link(name: str, label: str | None = None) -> str:
        return _notebook_link(name, available, book_notebooks, label)

    sizes = {name: run_config(result).get("image_size") for name, result in results.items()}

    def other_size(r) -> int | None:
        """This build's image size where ``r`` needs a run at another size (Table 5.3: 512 px), else None."""
        size = sizes.get(r.notebook)
        return size if r.image_size is not None and size is not None and size != r.image_size else None

    filled_rows = [r for r in SCORECARD if _find(results, r.notebook, r.key) is not _MISSING and other_size(r) is None]
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
        configs = {n: run_config(results[n]) for n in dict.fromkeys(r.notebook for r in rows) if n in results}
        lines += [
            "| table | row | metric | paper | ours (test split) | seeds | verdict | notebook |",
            "|---|---|---|---|---|---|---|---|",
        ]
        notes = list(dict.fromkeys(r.note for r in rows if r.note))  # numbered below the table
        for r in rows:
            value = _find(results, r.notebook, r.key)
            seeds, judged = "—", "—"
            if value is not _MISSING and other_size(r) is not None:
                ours = f"not run at {r.image_size} px in this profile ({other_size(r)} px)"
            elif value is _MISSING:
                ours = "not yet run" if r.notebook not in results else NOT_IN_RUN
            else:
                half = interval(results, r.notebook, r.key)
                ours = with_interval(value, half, bounded="NLL" not in r.metric)
                if id(r) in shared_ids:
                    ours += f" †{shared_ids[id(r)]}"
                config = configs.get(r.notebook, {})
                count = seed_count(config)
                seeds = str(count) if count is not None else "several groups"
                judged = verdict(r.paper, value, half, comparable(study, config))
            notebook = link(r.notebook, label=r.notebook[:2]) if r.notebook else "—"  # the number: a narrow column
            paper = f"{r.paper} (note {notes.index(r.note) + 1})" if r.note else r.paper
            lines.append(f"| {r.table} | {r.row} | {r.metric} | {paper} | {ours} | {seeds} | {judged} | {notebook} |")
        lines.append("")
        lines += [f"Note {i}: {note}." for i, note in enumerate(notes, 1)] + ([""] if notes else [])
        if study is not None and configs and not all(comparable(study, c) for c in configs.values()):
            lines += [scale_reason(study, configs), ""]
    lines += ["(scorecard-runs)=", "## The runs behind our numbers", ""]
    if not results:
        lines += ["No notebook has written results in this build.", ""]
    else:
        lines += ["From each notebook's results file (its `run` record where the notebook writes one).", ""]
        for name in sorted(results):
            lines.append(f"- {link(name)}: {describe_run(run_config(results[name]))}.")
        lines.append("")
    return "\n".join(lines)
