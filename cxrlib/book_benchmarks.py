"""The benchmarks that ``make book`` runs, so that the performance page is measured in every build.

Each script of ``benchmarks/`` runs at a size that fits the profile (``smoke``: seconds, for CI;
``default``: a few minutes on a 2-core CPU; ``full``: the script's own defaults, the sources' sizes)
and writes ``results/benchmarks/<name>.json``. Like the notebooks, a benchmark whose script,
arguments and ``cxrlib`` files are unchanged since its last run, and whose record is still there, is
not run again. On a machine without CUDA the GPU check runs too: it only records that every CUDA
check was skipped (its section on the page says so); on a GPU box ``make gpu-check`` fills it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["BOOK_BENCHMARK_ARGS", "benchmark_command", "run_benchmarks"]

#: per profile, the arguments each benchmark script runs with in the book
BOOK_BENCHMARK_ARGS: dict[str, dict[str, list[str]]] = {
    "smoke": {
        "saliency": ["--image-size", "64", "--batch", "4", "--repeats", "3"],
        "loader": ["--size", "64", "--passes", "3"],
        "laplace": ["--n", "160", "--image-size", "48", "--epochs", "1", "--repeats", "2", "--grid", "5"],
        "pylon": ["--encoder", "resnet18", "--size", "64", "--batch", "4", "--repeats", "3"],
        "real_scale": ["--n", "300", "--side", "256", "--distinct", "20", "--serial-n", "100", "--size", "64"]
        + ["--throttle", "0.01"],
        "report": ["--n", "100", "--size", "64", "--bootstrap", "50", "--scale-n", "2000"],
    },
    "default": {
        "saliency": ["--image-size", "96", "--batch", "8", "--repeats", "5"],
        "loader": ["--size", "256", "--passes", "5"],
        "laplace": ["--n", "600", "--image-size", "96", "--epochs", "2", "--repeats", "3", "--grid", "11"],
        "pylon": ["--encoder", "resnet50", "--size", "256", "--batch", "8", "--repeats", "3"],
        "real_scale": ["--n", "2000", "--side", "1024", "--distinct", "100", "--serial-n", "500", "--size", "256"],
        "report": [],
    },
    "full": {"saliency": [], "loader": [], "laplace": [], "pylon": [], "real_scale": [], "report": []},
}


def benchmark_command(name: str, profile: str, root: str | Path = ".") -> list[str]:
    """The command line of benchmark ``name`` under ``profile`` (``gpu_check``: the GPU check)."""
    root = Path(root).resolve()
    if name == "gpu_check":
        return [sys.executable, "-m", "cxrlib.gpu_check", "--root", str(root)]
    if profile not in BOOK_BENCHMARK_ARGS or name not in BOOK_BENCHMARK_ARGS[profile]:
        raise ValueError(f"no benchmark {name!r} for profile {profile!r}; the book runs {list(BOOK_BENCHMARK_ARGS)}")
    script = root / "benchmarks" / f"bench_{name}.py"
    return [sys.executable, str(script), *BOOK_BENCHMARK_ARGS[profile][name], "--root", str(root)]


def _fingerprint(command: list[str], package: str) -> str:
    """The arguments, the script's own text (a ``-m`` module is covered by ``package``) and the package."""
    digest = hashlib.sha256(json.dumps(command[1:]).encode())
    script = Path(command[1])
    if script.suffix == ".py" and script.exists():
        digest.update(script.read_bytes())
    digest.update(package.encode())
    return digest.hexdigest()[:20]


def run_benchmarks(profile: str, root: str | Path = ".", package: str = "", force: bool = False) -> dict[str, float]:
    """Run every benchmark of ``profile`` (and, without CUDA, the GPU check's record) unless unchanged;
    returns seconds per benchmark (a skipped one's from its last run). ``package``: the ``cxrlib``
    digest the fingerprints include. A failing script raises ``RuntimeError`` naming it and its log."""
    import torch

    root = Path(root).resolve()
    names = list(BOOK_BENCHMARK_ARGS[profile])
    if not torch.cuda.is_available():
        names.append("gpu_check")
    seconds: dict[str, float] = {}
    env = {**os.environ, "MPLBACKEND": "Agg", "CXRLIB_PROGRESS": "0"}
    for name in names:
        command = benchmark_command(name, profile, root)
        fingerprint = _fingerprint(command, package)
        stamp = root / "results" / "_executed" / f"benchmark_{name}.json"
        record = root / "results" / "benchmarks" / f"{name}.json"
        done = json.loads(stamp.read_text()) if stamp.exists() else {}
        if done.get("fingerprint") == fingerprint and record.exists() and not force:
            seconds[name] = float(done.get("seconds", 0.0))
            print(f"[cxrlib.book] benchmark {name}: unchanged since its last run, not run again", flush=True)
            continue
        print(f"[cxrlib.book] benchmark {name}: {' '.join(command[1:])}", flush=True)
        log = root / "results" / "benchmarks" / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with log.open("w") as out:
            done_process = subprocess.run(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
        seconds[name] = time.perf_counter() - t0
        if done_process.returncode != 0 or not record.exists():
            tail = log.read_text().strip().splitlines()[-5:]
            raise RuntimeError(f"benchmark {name} failed (exit {done_process.returncode}); {log}:\n" + "\n".join(tail))
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"fingerprint": fingerprint, "seconds": seconds[name], "profile": profile}))
        print(f"[cxrlib.book] benchmark {name}: {seconds[name]:.0f} s", flush=True)
    return seconds
