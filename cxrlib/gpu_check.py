"""``make gpu-check`` (``python -m cxrlib.gpu_check``): the book on a GPU box in one command.

In order: the training-step throughput table (the GPU to itself: DenseNet-121, ResNet-50 and VGG-19 at
224 px, bf16 + channels_last, batches 64 and 256, and batch 256 under ``torch.compile`` too); then every study
on ``smoke`` (``python -m cxrlib.studies NAME --profile smoke``, several at once, 05 after 04 and 09
after 08) and one notebook through papermill; then the four benchmarks with ``--device cuda``. It
prints one table of pass/fail and wall times and writes ``results/benchmarks/gpu_check.json`` (the
performance page's GPU section) and each job's log under ``results/gpu_check/``.

On a machine without CUDA it says so, marks every CUDA check skipped and exits 0 (``--device cpu``
runs the same plan on the CPU, for trying the runner itself with small settings).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .book import DEPENDENCIES, NOTEBOOKS
from .gpu_report import checks_table, throughput_table
from .performance import write_benchmark
from .throughput import training_step_throughput

__all__ = ["Check", "Job", "run_jobs", "main", "BENCHMARK_SCRIPTS", "THROUGHPUT_BACKBONES"]

#: benchmark script → whether it takes ``--device`` (the loader benchmark measures CPU decoding)
BENCHMARK_SCRIPTS = {"saliency": True, "loader": False, "laplace": True, "pylon": True}
THROUGHPUT_BACKBONES = ("densenet121", "resnet50", "vgg19")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Check:
    name: str
    status: str  #: "pass", "fail" or "skipped"
    seconds: float | None = None
    note: str = ""


@dataclass
class Job:
    """A command the check runs as a subprocess; ``after``: jobs that must pass first."""

    name: str
    command: list[str]
    after: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def run_jobs(jobs: Sequence[Job], parallel: int, log_dir: Path, timeout: float) -> list[Check]:
    """Run ``jobs`` with at most ``parallel`` at once, each after the jobs it names (a job whose
    predecessor failed is skipped); stdout and stderr to ``log_dir/<name>.log``. A job running past
    ``timeout`` seconds is killed and fails. Returns one :class:`Check` per job, in the jobs' order."""
    log_dir.mkdir(parents=True, exist_ok=True)
    known = {j.name for j in jobs}
    pending, running, done, killed = list(jobs), {}, {}, set()
    while pending or running:
        for job in list(pending):
            if len(running) >= parallel:
                break
            waits = [d for d in job.after if d in known]
            if any(d not in done for d in waits):
                continue
            pending.remove(job)
            failed = [d for d in waits if done[d].status != "pass"]
            if failed:
                done[job.name] = Check(job.name, "skipped", None, f"needs {', '.join(failed)}, which did not pass")
                continue
            log = open(log_dir / f"{_file_name(job.name)}.log", "w")  # noqa: SIM115 - closed when the job ends
            proc = subprocess.Popen(
                job.command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **job.env}, cwd=ROOT
            )
            running[job.name] = (proc, log, time.perf_counter())
            print(f"[gpu-check] started {job.name}", flush=True)
        for name, (proc, log, start) in list(running.items()):
            seconds = time.perf_counter() - start
            if proc.poll() is None and seconds > timeout:
                proc.kill()
                proc.wait()
                killed.add(name)
            if proc.poll() is None:
                continue
            log.close()
            del running[name]
            if name in killed:
                done[name] = Check(name, "fail", seconds, f"killed after {timeout:.0f} s")
            elif proc.returncode == 0:
                done[name] = Check(name, "pass", seconds)
            else:
                last = _last_line(log_dir / f"{_file_name(name)}.log")
                done[name] = Check(name, "fail", seconds, f"exit {proc.returncode}: {last}")
            print(f"[gpu-check] {name}: {done[name].status} ({seconds:.0f} s)", flush=True)
        time.sleep(0.2)
    return [done[job.name] for job in jobs]


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _last_line(path: Path) -> str:
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return (lines[-1] if lines else "no output")[:200]


def _study_jobs(studies: Sequence[str], results: Path) -> list[Job]:
    env = {"CXRLIB_RESULTS_DIR": str(results), "CXRLIB_PROGRESS": "0", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    return [
        Job(
            f"study {name}",
            [sys.executable, "-m", "cxrlib.studies", name, "--profile", "smoke"],
            tuple(f"study {d}" for d in DEPENDENCIES.get(name, ()) if d in studies),
            env,
        )
        for name in studies
    ]


def _notebook_job(notebook: str, out: Path) -> Job:
    env = {"CXRLIB_RESULTS_DIR": str(out / "notebook-results"), "CXRLIB_PROGRESS": "0", "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "papermill", f"notebooks/{notebook}.ipynb", str(out / f"{notebook}.ipynb")]
    command += ["-p", "profile", "smoke", "--cwd", "notebooks", "-k", "python3", "--no-progress-bar"]
    return Job(f"notebook {notebook} (papermill)", command, (), env)


def _benchmark_jobs(benchmarks: Sequence[str], device: str) -> list[Job]:
    jobs = []
    for name in benchmarks:
        command = [sys.executable, f"benchmarks/bench_{name}.py"]
        if BENCHMARK_SCRIPTS[name]:
            command += ["--device", device]
        jobs.append(Job(f"benchmark {name}", command, (), {"MPLBACKEND": "Agg", "CXRLIB_PROGRESS": "0"}))
    return jobs


def _throughput(
    specs: Sequence[tuple[str, int]],
    image_size: int,
    device: str,
    compile_batches: set[int],
    steps: int,
    warmup: int,
) -> tuple[list[dict], list[Check]]:
    """Each (backbone, batch) eager, and compiled too where the batch is in ``compile_batches``."""
    rows, checks = [], []
    for backbone, batch in specs:
        for compiled in (False, True) if batch in compile_batches else (False,):
            name = f"throughput {backbone} b{batch}" + (" compiled" if compiled else "")
            start = time.perf_counter()
            try:
                row = training_step_throughput(
                    backbone, batch, image_size, device, compile=compiled, steps=steps, warmup=warmup
                )
            except Exception as err:  # a failed configuration (out of memory, compile error) is a row, not the end
                checks.append(Check(name, "fail", time.perf_counter() - start, f"{type(err).__name__}: {err}"[:200]))
            else:
                rows.append(row.as_dict())
                checks.append(Check(name, "pass", time.perf_counter() - start, f"{row.images_per_second:.0f} img/s"))
            print(f"[gpu-check] {checks[-1].name}: {checks[-1].status} {checks[-1].note}", flush=True)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    return rows, checks


def _parse_specs(text: str) -> list[tuple[str, int]]:
    """``"densenet121:64,resnet50:256"`` → ``[("densenet121", 64), ("resnet50", 256)]``."""
    specs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        backbone, _, batch = part.partition(":")
        if not batch.isdigit():
            raise SystemExit(f"--throughput: give backbone:batch pairs, got {part!r}")
        specs.append((backbone, int(batch)))
    return specs


def _listed(text: str, allowed: Sequence[str], what: str) -> list[str]:
    if text == "none":
        return []
    if text == "all":
        return list(allowed)
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = sorted(set(chosen) - set(allowed))
    if unknown:
        raise SystemExit(f"--{what}: unknown {unknown}; choose from {list(allowed)}, 'all' or 'none'")
    return [a for a in allowed if a in chosen]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxrlib.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu, to try the runner itself")
    parser.add_argument("--studies", default="all", help="comma-separated study names, 'all' or 'none'")
    parser.add_argument("--notebook", default="01_baseline", help="the notebook run through papermill, or 'none'")
    parser.add_argument("--benchmarks", default="all", help=f"of {list(BENCHMARK_SCRIPTS)}, 'all' or 'none'")
    default_specs = ",".join(f"{b}:{n}" for b in THROUGHPUT_BACKBONES for n in (64, 256))
    parser.add_argument("--throughput", default=default_specs, help="backbone:batch pairs, or 'none'")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument(
        "--compile-batches",
        default="256",
        help="batch sizes also measured under torch.compile (each compile takes about a minute), or 'none'",
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=4, help="studies at once")
    parser.add_argument("--timeout", type=float, default=240, help="seconds one job may run")
    parser.add_argument("--root", default=str(ROOT), help="write <root>/results/benchmarks/gpu_check.json and logs")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    out = Path(args.root) / "results" / "gpu_check"
    studies = _listed(args.studies, NOTEBOOKS, "studies")
    benchmarks = _listed(args.benchmarks, list(BENCHMARK_SCRIPTS), "benchmarks")
    specs = [] if args.throughput == "none" else _parse_specs(args.throughput)
    jobs = _study_jobs(studies, out / "results")
    if args.notebook != "none":
        jobs.append(_notebook_job(args.notebook, out))
    bench_jobs = _benchmark_jobs(benchmarks, args.device)
    cuda = torch.cuda.is_available()
    device = torch.device(args.device)
    print(f"[gpu-check] torch {torch.__version__} (CUDA build {torch.version.cuda}); device {device}", flush=True)
    if device.type == "cuda" and not cuda:
        print(
            "[gpu-check] No CUDA device on this machine: every CUDA check is skipped. The CPU stand-ins for "
            "the CUDA failure classes are in the test suite (make test); run `make gpu-check` on a GPU box.",
            flush=True,
        )
        planned = [f"throughput {b} b{n}" for b, n in specs] + [j.name for j in jobs + bench_jobs]
        checks, rows = [Check(name, "skipped", None, "no CUDA device") for name in planned], []
    else:
        if cuda and device.type == "cuda":
            print(f"[gpu-check] GPU: {torch.cuda.get_device_name(device)}", flush=True)
        compile_batches = set() if args.compile_batches == "none" else {int(b) for b in args.compile_batches.split(",")}
        rows, checks = _throughput(specs, args.image_size, args.device, compile_batches, args.steps, args.warmup)
        checks += run_jobs(jobs, args.parallel, out / "logs", args.timeout)
        checks += run_jobs(bench_jobs, 1, out / "logs", args.timeout)  # one at a time: they time the GPU
    wall = time.perf_counter() - t0
    figures = {
        "cuda": bool(cuda and device.type == "cuda"),
        "checks": [asdict(c) for c in checks],
        "throughput": rows,
        "wall_seconds": wall,
    }
    settings = {"image_size": args.image_size, "steps": args.steps, "warmup": args.warmup, "parallel": args.parallel}
    path = write_benchmark("gpu_check", figures, device, args.root, settings)
    print("\n".join(["", *checks_table(figures["checks"])]))
    if rows:
        print("\n".join(["", *throughput_table(rows)]))
    failed = sum(c.status == "fail" for c in checks)
    print(f"\n[gpu-check] {len(checks)} checks, {failed} failed, {wall / 60:.1f} min; wrote {path}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
