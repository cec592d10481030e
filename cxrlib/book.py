"""The notebook runner: execute every notebook with papermill under a profile, collect each one's
headline numbers, write the scorecard page and build the Jupyter Book.

Command line (what ``make book`` / ``make test`` call)::

    python -m cxrlib.book --profile smoke|default|full [--only 01_baseline] [--no-build] [--no-benchmarks] [--force]

After the notebooks it runs the scripts of ``benchmarks/`` at the profile's sizes
(:mod:`cxrlib.book_benchmarks`), so that the performance page is measured in every build.

A notebook whose source, profile, parameters and cxrlib files are unchanged since its last
successful run is not executed again (it says so); `--force` reruns it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import results_dir
from .book_benchmarks import run_benchmarks
from .distributed import is_main_process
from .performance import machine_info, write_performance
from .scale_guide import write_scale_guide
from .scorecard import scorecard_markdown

__all__ = [
    "NOTEBOOKS",
    "run_fingerprint",
    "package_digest",
    "DEPENDENCIES",
    "TOOL_NOTEBOOKS",
    "is_bookkeeping_cell",
    "BOOKKEEPING_CALLS",
    "with_dependencies",
    "skipped_notebooks",
    "PROFILES",
    "record_results",
    "results_dir",
    "execute_notebooks",
    "collect_results",
    "write_scorecard",
    "build_book",
    "main",
]

#: every notebook of the book, in order; a test keeps this equal to notebooks/ and _toc.yml
NOTEBOOKS: list[str] = [
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
    "10_reliability_report",
]
PROFILES = ("smoke", "default", "full")
#: notebooks that apply the library to a model instead of reproducing a source (no study, no scorecard rows)
TOOL_NOTEBOOKS: tuple[str, ...] = ("10_reliability_report",)
#: notebook → the notebooks whose artifacts (``cxrlib.artifacts``) it loads; the runner executes those
#: first and reruns a notebook whenever one it depends on changed
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "05_calibration": ("04_imbalance_losses",),
    "09_pylon_ablations": ("08_pylon",),
    "10_reliability_report": ("01_baseline",),
}
EXECUTED_DIR = Path("book") / "notebooks"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def record_results(notebook: str, values: dict[str, Any]) -> Path:
    """Write a notebook's headline numbers to ``results/<notebook>.json`` and glue the scalars.

    Glued names are ``<key>`` for every top-level scalar, so book pages can ``{glue:}`` them.
    """
    path = results_dir() / f"{notebook}.json"
    if not is_main_process():  # under torchrun only rank 0 writes
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = _plain(values)
    path.write_text(json.dumps(plain, indent=1))
    try:
        from myst_nb import glue
    except ImportError:  # outside the book environment: the JSON file is enough
        return path
    for key, value in plain.items():
        if isinstance(value, (int, float, str)):
            glue(key, value, display=False)
    return path


def package_digest() -> str:
    """Hash of every file of the installed ``cxrlib`` package (code and shipped data)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_fingerprint(
    notebook: Path, profile: str, parameters: dict[str, Any] | None = None, package: str | None = None
) -> str:
    """Hash of everything a notebook's executed copy depends on: its source, the profile, the
    parameters and the ``cxrlib`` package (``package``: a :func:`package_digest` already computed)."""
    digest = hashlib.sha256()
    digest.update(Path(notebook).read_bytes())
    digest.update(
        json.dumps({"profile": profile, "parameters": parameters or {}}, sort_keys=True, default=str).encode()
    )
    digest.update((package or package_digest()).encode())
    return digest.hexdigest()[:20]


def with_dependencies(names: Sequence[str]) -> list[str]:
    """``names`` plus every notebook they depend on (transitively), in the book's order."""
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack += list(DEPENDENCIES.get(name, ()))
    return [n for n in NOTEBOOKS if n in wanted]


#: calls that only record (for the scorecard, for a later notebook): a cell of nothing else is bookkeeping
BOOKKEEPING_CALLS = frozenset({"record_results", "save_weights", "save_artifact"})


def is_bookkeeping_cell(source: str) -> bool:
    """Whether a code cell only records results: every statement a call of :data:`BOOKKEEPING_CALLS`
    (``_ = record_results(...)``, ``result.save_weights()``); such cells are removed from the book."""
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False

    def recording(node) -> bool:
        call = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
        if isinstance(node, ast.Assign) and not all(isinstance(t, ast.Name) and t.id == "_" for t in node.targets):
            return False
        if not isinstance(call, ast.Call):
            return False
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in BOOKKEEPING_CALLS

    return bool(body) and all(recording(node) for node in body)


def _tag_for_the_book(path: Path) -> None:
    """In an executed copy, fold the parameters cell (``hide-input``: a reader opens it on demand),
    remove papermill's injected-parameters cell (the run header states what was run) and the
    bookkeeping cells (:func:`is_bookkeeping_cell`)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        remove = "injected-parameters" in tags or (cell.cell_type == "code" and is_bookkeeping_cell(cell.source))
        if remove and "remove-cell" not in tags:
            tags.append("remove-cell")
        elif "parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
    nbformat.write(nb, path)


def _stamp_path(root: Path, name: str) -> Path:
    return root / "results" / "_executed" / f"{name}.json"


def _read_stamp(root: Path, name: str) -> dict:
    """What the last successful execution of ``name`` recorded (fingerprint, seconds), or ``{}``."""
    path = _stamp_path(root, name)
    return json.loads(path.read_text()) if path.exists() else {}


def execute_notebooks(
    profile: str,
    names: Sequence[str] | None = None,
    root: str | Path = ".",
    parameters: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, float]:
    """Run ``notebooks/<name>.ipynb`` with papermill into ``book/notebooks/``; returns seconds per notebook.

    A notebook whose source, profile, parameters and ``cxrlib`` files are unchanged since its last
    successful execution (:func:`run_fingerprint`, stamped in ``results/_executed/``), and whose
    executed copy and results file are still there, is not run again (its last run's seconds are
    returned, and it is named in ``skipped_notebooks``); ``force=True`` runs it anyway.

    Raises ``ValueError`` for an unknown profile or notebook name; a failing notebook raises
    papermill's ``PapermillExecutionError`` (the partly executed copy is kept for inspection).
    """
    import papermill

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {PROFILES}")
    root = Path(root).resolve()
    names = list(names or NOTEBOOKS)
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; the book has {NOTEBOOKS}")
    names = with_dependencies(names)
    (root / EXECUTED_DIR).mkdir(parents=True, exist_ok=True)
    os.environ["CXRLIB_RESULTS_DIR"] = str(root / "results")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ.setdefault("CXRLIB_PROGRESS", "0")  # progress bars are for interactive runs, not the book
    seconds = {}
    skipped_notebooks.clear()
    package = package_digest()  # once: every notebook depends on the same package
    for name in names:
        source = root / "notebooks" / f"{name}.ipynb"
        upstream = [_read_stamp(root, d).get("fingerprint") for d in DEPENDENCIES.get(name, ())]
        fingerprint = run_fingerprint(source, profile, parameters, package)
        fingerprint = hashlib.sha256(json.dumps([fingerprint, upstream]).encode()).hexdigest()[:20]
        stamp = _stamp_path(root, name)
        done = _read_stamp(root, name)
        unchanged = (
            done.get("fingerprint") == fingerprint
            and (root / EXECUTED_DIR / f"{name}.ipynb").exists()
            and (root / "results" / f"{name}.json").exists()
        )
        if unchanged and not force:
            seconds[name] = float(done.get("seconds", 0.0))
            skipped_notebooks.append(name)
            print(
                f"[cxrlib.book] {name}: unchanged since its last run (profile {profile}), not run again; "
                "--force reruns it",
                flush=True,
            )
            continue
        t0 = time.perf_counter()
        print(f"[cxrlib.book] executing {name} (profile {profile})", flush=True)
        papermill.execute_notebook(
            str(root / "notebooks" / f"{name}.ipynb"),
            str(root / EXECUTED_DIR / f"{name}.ipynb"),
            parameters={"profile": profile, **(parameters or {})},
            cwd=str(root / "notebooks"),
            kernel_name="python3",
            progress_bar=False,
            stdout_file=sys.stdout,
            stderr_file=sys.stderr,
        )
        seconds[name] = time.perf_counter() - t0
        _tag_for_the_book(root / EXECUTED_DIR / f"{name}.ipynb")
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"fingerprint": fingerprint, "seconds": seconds[name], "profile": profile}))
        print(f"[cxrlib.book] {name}: {seconds[name]:.0f} s", flush=True)
    return seconds


#: the notebooks the last :func:`execute_notebooks` call found unchanged and did not run
skipped_notebooks: list[str] = []


def collect_results(root: str | Path = ".") -> dict[str, dict]:
    """Every ``results/*.json`` written by the notebooks, by notebook name."""
    folder = Path(root) / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.exists() else {}


def write_scorecard(root: str | Path = ".") -> Path:
    """``book/scorecard.md`` from ``results/*.json``; links go to the notebooks executed into ``book/notebooks/``."""
    path = Path(root) / "book" / "scorecard.md"
    executed = [n for n in NOTEBOOKS if (Path(root) / EXECUTED_DIR / f"{n}.ipynb").exists()]
    path.write_text(scorecard_markdown(collect_results(root), NOTEBOOKS, executed))
    return path


def build_book(root: str | Path = ".") -> Path:
    """``jupyter-book build`` (1.x) of ``root``; returns ``_build/html/index.html``."""
    root = Path(root).resolve()
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "--keep-going"]
    subprocess.run(cmd, check=True, cwd=root)
    index = root / "_build" / "html" / "index.html"
    if not index.exists():
        raise RuntimeError(f"jupyter-book finished but {index} is missing")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxrlib.book", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument("--only", nargs="*", help="notebooks to execute (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="build from the executed copies already there")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--no-benchmarks", action="store_true", help="leave benchmarks/ out of this run")
    parser.add_argument("--force", action="store_true", help="run notebooks even when nothing they depend on changed")
    parser.add_argument("--root", default=".")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if not args.no_execute:
        seconds = execute_notebooks(args.profile, args.only, args.root, force=args.force)
        for name in NOTEBOOKS:  # with --only, the others' times are their last runs' (when of this profile)
            stamp = _read_stamp(Path(args.root).resolve(), name)
            if name not in seconds and stamp.get("profile") == args.profile and "seconds" in stamp:
                seconds[name] = float(stamp["seconds"])
                skipped_notebooks.append(name)
        seconds = {name: seconds[name] for name in NOTEBOOKS if name in seconds}
        (Path(args.root) / "results").mkdir(exist_ok=True)
        runner = {
            "profile": args.profile,
            "seconds": seconds,
            "not_rerun": list(skipped_notebooks),
            "machine": machine_info(),
        }
        (Path(args.root) / "results" / "_runner.json").write_text(json.dumps(runner, indent=1))
        if not (args.no_benchmarks or args.only):  # --only: one notebook at a time, not the page
            run_benchmarks(args.profile, args.root, package_digest(), force=args.force)
    write_scorecard(args.root)
    write_performance(args.root, NOTEBOOKS)
    write_scale_guide(args.root)
    if not args.no_build:
        index = build_book(args.root)
        print(f"[cxrlib.book] built {index}")
    print(f"[cxrlib.book] done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
