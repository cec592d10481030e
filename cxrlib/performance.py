"""The performance page, computed from measurements: nothing on it is typed by hand.

The scripts in ``benchmarks/`` write their figures with :func:`write_benchmark` to
``results/benchmarks/<name>.json`` (figures plus the machine: date, CPU model and cores, torch and
numpy versions, device); the runner (``python -m cxrlib.book``) writes ``results/_runner.json`` with
its seconds per notebook. :func:`performance_markdown` turns those files into ``book/performance.md``
and says "not measured in this build" for every file that is absent.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .gpu_report import gpu_check_section
from .nested import nested_get
from .performance_format import format_duration
from .performance_report import report_benchmark_section
from .performance_sections import laplace_section, loader_section, pylon_section, saliency_section
from .real_scale_report import real_scale_section

__all__ = [
    "BENCHMARKS",
    "format_duration",
    "machine_info",
    "benchmark_dir",
    "write_benchmark",
    "interleaved",
    "read_benchmarks",
    "read_records",
    "read_runner",
    "performance_markdown",
    "write_performance",
]

#: the benchmarks the page reports, in page order: name → (section title, command that measures it)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "saliency": ("Saliency inside the training loss, and batched Grad-CAM", "python benchmarks/bench_saliency.py"),
    "loader": ("Loading images: the decode-once cache", "python benchmarks/bench_loader.py"),
    "laplace": ("Last-layer Laplace on cached features", "python benchmarks/bench_laplace.py"),
    "pylon": ("PYLON's decoder: training step and class maps", "python benchmarks/bench_pylon.py"),
    "real_scale": (
        "Real datasets at their true size: parallel, resumable decode-once cache",
        "python benchmarks/bench_real_scale.py",
    ),
    "report": ("The reliability report of a model", "python benchmarks/bench_report.py"),
    "gpu_check": ("On a GPU box: every study, the benchmarks and the training-step throughput", "make gpu-check"),
}
NOT_MEASURED = "Not measured in this build"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info(device: Any = "cpu") -> dict[str, Any]:
    """Where and when a measurement was taken: date, CPU model and cores, library versions, device."""
    import numpy
    import torch

    device = str(device)
    info = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def benchmark_dir(root: str | Path = ".") -> Path:
    return Path(root) / "results" / "benchmarks"


def write_benchmark(
    name: str,
    figures: dict[str, Any],
    device: Any = "cpu",
    root: str | Path = ".",
    settings: dict[str, Any] | None = None,
) -> Path:
    """Write ``results/benchmarks/<name>.json``: ``{"benchmark", "machine", "settings", "figures"}``."""
    path = benchmark_dir(root) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": name, "machine": machine_info(device), "settings": settings or {}, "figures": figures}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    return path


def _synchronizer(device: Any) -> Callable[[], None]:
    """What waits for ``device`` to finish its queued work: ``torch.cuda.synchronize`` for a CUDA
    device, else nothing."""
    if device is None:
        return lambda: None
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return lambda: None
    return lambda: torch.cuda.synchronize(device)


def interleaved(
    fns: Mapping[str, Callable[[], Any]],
    repeats: int,
    device: Any = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Time several steps interleaved: each of ``fns`` once to warm up (untimed), then ``repeats``
    rounds calling every step in turn (A, B, A, B...), so machine noise hits all alike.

    Returns ``{name: median seconds of one call}``, in the order of ``fns``. With a CUDA ``device``
    (a ``torch.device`` or its name; None for none) the device is synchronised around every timed
    call. ``clock``: seconds, a monotonic counter (``time.perf_counter``).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    sync = _synchronizer(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = clock()
            fn()
            sync()
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def read_benchmarks(root: str | Path = ".") -> dict[str, dict]:
    """Every ``results/benchmarks/*.json``, by benchmark name."""
    folder = benchmark_dir(root)
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.exists() else {}


def read_records(root: str | Path = ".") -> dict[str, dict]:
    """The committed records of runs too long for a book build (``benchmarks/records/<name>_*.json``,
    written by a benchmark's ``--record``), by benchmark name; the last in name order wins."""
    folder = Path(root) / "benchmarks" / "records"
    records = {}
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        record = json.loads(path.read_text())
        records[record.get("benchmark", path.stem)] = {**record, "path": f"benchmarks/records/{path.name}"}
    return records


def read_runner(root: str | Path = ".") -> dict | None:
    path = Path(root) / "results" / "_runner.json"
    return json.loads(path.read_text()) if path.exists() else None


def _machine_line(machine: dict[str, Any] | None) -> str:
    if not machine:
        return "Machine not recorded."
    device = machine.get("device", "?")
    if machine.get("gpu"):
        device = f"{device} ({machine['gpu']})"
    cores = machine.get("cpu_cores")
    threads = machine.get("torch_threads")
    cpu = f"{machine.get('cpu_model', 'unknown CPU')}, {cores if cores is not None else '?'} cores"
    if threads is not None:
        cpu += f" ({threads} torch threads)"
    return (
        f"Measured {machine.get('date', 'on an unrecorded date')} on {cpu}; device {device}; "
        f"torch {machine.get('torch', '?')}, numpy {machine.get('numpy', '?')}."
    )


_SECTIONS = {
    "saliency": saliency_section,
    "loader": loader_section,
    "laplace": laplace_section,
    "pylon": pylon_section,
    "real_scale": real_scale_section,
    "report": report_benchmark_section,
    "gpu_check": gpu_check_section,
}


def performance_markdown(
    benchmarks: dict[str, dict],
    runner: dict | None,
    notebooks: list[str] | None = None,
    records: dict[str, dict] | None = None,
) -> str:
    """The performance page from the benchmark records (name → record) and the runner's record.

    ``notebooks``: every notebook of the book, to say which the runner's last run did not execute.
    ``records``: committed records of longer runs (:func:`read_records`), each shown under its
    benchmark's section after this build's figures.
    """
    records = records or {}
    lines = [
        "# Performance",
        "",
        "Every figure on this page is read from a file that a measurement wrote in this build: "
        "`results/benchmarks/<name>.json` (written by the scripts in `benchmarks/`) and "
        "`results/_runner.json` (written by `python -m cxrlib.book`). Where a file is absent the page says so. "
        "Timings are compared as ratios within one run: the build machines are noisy, so the timings "
        "of a pair are interleaved (A, B, A, B...) and medians are compared; absolute times are only "
        "indicative.",
        "",
    ]
    for name, (title, command) in BENCHMARKS.items():
        lines += [f"## {title}", ""]
        record = benchmarks.get(name)
        if record is None:
            lines += [f"*{NOT_MEASURED}* (no `results/benchmarks/{name}.json`; run `{command}`).", ""]
        else:
            lines += _SECTIONS[name](record)
            lines += [_machine_line(record.get("machine")) + f" Rerun with `{command}`.", ""]
        committed = records.get(name)
        if committed is not None:
            lines += [
                "### At scale: a committed record",
                "",
                f"A longer run than a book build can afford, kept in `{committed['path']}` (its settings: "
                + ", ".join(f"`{k}` {v}" for k, v in committed.get("settings", {}).items())
                + "). It is not re-measured by this build.",
                "",
                *_SECTIONS[name](committed),
                _machine_line(committed.get("machine")),
                "",
            ]
    for name in sorted(set(benchmarks) - set(BENCHMARKS)):
        lines += [
            f"## Benchmark `{name}`",
            "",
            "```json",
            json.dumps(benchmarks[name].get("figures", {}), indent=1),
            "```",
            "",
            _machine_line(benchmarks[name].get("machine")),
            "",
        ]
    lines += ["## Building the book", ""]
    seconds = (runner or {}).get("seconds") or {}
    if not seconds:
        lines += [
            f"*{NOT_MEASURED}* (no `results/_runner.json`: the notebooks were not executed by "
            "`python -m cxrlib.book` in this build).",
            "",
        ]
    else:
        profile = runner.get("profile", "?")
        lines += [
            f"Wall time per notebook in the last run of `python -m cxrlib.book --profile {profile}` "
            "(papermill execution, kernel start included).",
            "",
            "| notebook | wall time |",
            "|---|---|",
        ]
        not_rerun = set(runner.get("not_rerun") or [])
        note = " (an earlier run: unchanged, not executed again)"
        lines += [
            f"| {name} | {format_duration(s)}{note if name in not_rerun else ''} |" for name, s in seconds.items()
        ]
        lines += [f"| **total** | **{format_duration(sum(seconds.values()))}** |", ""]
        skipped = [n for n in (notebooks or []) if n not in seconds]
        if skipped:
            lines += [
                f"That run did not execute {', '.join(skipped)} (`--only`): "
                f"{'its' if len(skipped) == 1 else 'their'} time is not measured in this build.",
                "",
            ]
        lines += [_machine_line(runner.get("machine")), ""]
    lines += ["## GPU", ""]
    gpu = {n: r for n, r in benchmarks.items() if nested_get(r, "machine", "gpu")}  # "gpu" only where CUDA ran
    if runner and str(nested_get(runner, "machine", "device") or "").startswith("cuda"):
        gpu["the book build"] = runner
    if gpu:
        lines += [
            "GPU figures recorded in this build: "
            + ", ".join(
                f"{n} ({nested_get(r, 'machine', 'gpu') or nested_get(r, 'machine', 'device')})" for n, r in gpu.items()
            )
            + ".",
            "",
        ]
    else:
        lines += [
            "No GPU figures are recorded: no GPU was available to the machines that produced these files, "
            "so every figure above is a CPU measurement. The same scripts name the GPU in their record "
            "when run on one (`make gpu-check` runs them all with `--device cuda`).",
            "",
        ]
    return "\n".join(lines)


def write_performance(root: str | Path = ".", notebooks: list[str] | None = None) -> Path:
    """Write ``book/performance.md`` from ``results/benchmarks/*.json``, ``results/_runner.json`` and the
    committed ``benchmarks/records/*.json``."""
    path = Path(root) / "book" / "performance.md"
    path.write_text(performance_markdown(read_benchmarks(root), read_runner(root), notebooks, read_records(root)))
    return path
