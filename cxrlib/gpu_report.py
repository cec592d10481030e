"""The performance page's section for ``make gpu-check`` (:mod:`cxrlib.gpu_check`): its pass/fail table
and the training-step throughput table, from the record it wrote (``results/benchmarks/gpu_check.json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["gpu_check_section", "checks_table", "throughput_table"]


def _fmt(value: Any, spec: str = ".0f") -> str:
    return "–" if value is None else format(value, spec)


def checks_table(checks: list[dict]) -> list[str]:
    """Markdown rows: every check, its status and wall time."""
    lines = ["| check | status | wall time (s) | note |", "|---|---|---:|---|"]
    for c in checks:
        lines.append(f"| {c['name']} | {c['status']} | {_fmt(c.get('seconds'), '.1f')} | {c.get('note') or ''} |")
    return lines


def throughput_table(rows: list[dict]) -> list[str]:
    """Markdown rows: images per second and peak memory per (backbone, batch), eager and compiled, and
    what ``torch.compile`` changes (compiled / eager images per second)."""
    eager = {(r["backbone"], r["batch_size"]): r for r in rows if not r["compiled"]}
    compiled = {(r["backbone"], r["batch_size"]): r for r in rows if r["compiled"]}
    lines = [
        "| backbone | image | batch | img/s | peak memory (GiB) | img/s compiled | compiled / eager "
        "| compile time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, r in eager.items():
        c = compiled.get(key)
        gain = f"{c['images_per_second'] / r['images_per_second']:.2f}×" if c else "–"
        lines.append(
            f"| {r['backbone']} | {r['image_size']} | {r['batch_size']} | {_fmt(r['images_per_second'])} | "
            f"{_fmt(r['peak_memory_gib'], '.1f')} | {_fmt(c['images_per_second']) if c else '–'} | {gain} | "
            f"{_fmt(c['warmup_seconds'], '.0f') if c else '–'} |"
        )
    return lines


def gpu_check_section(record: dict) -> list[str]:
    """The section's lines (the machine line is added by the page)."""
    figures = record.get("figures", {})
    machine = record.get("machine", {})
    gpu = machine.get("gpu")
    if not figures.get("cuda"):
        return [
            "This build ran the GPU check on a machine without CUDA, so every CUDA check was skipped "
            "(the CPU-side stand-ins for the CUDA failure classes run in the test suite instead). "
            "Run `make gpu-check` on a GPU box to fill this section.",
            "",
            *checks_table(figures.get("checks", [])),
            "",
        ]
    failed = [c["name"] for c in figures.get("checks", []) if c["status"] == "fail"]
    lines = [
        f"Measured on **{gpu}** in {figures.get('wall_seconds', 0) / 60:.1f} min: "
        + (f"**{len(failed)} check(s) failed** ({', '.join(failed)})." if failed else "every check passed."),
        "",
        *checks_table(figures.get("checks", [])),
        "",
    ]
    rows = figures.get("throughput", [])
    if rows:
        settings = record.get("settings", {})
        lines += [
            f"Training step (`fit`'s: bf16 autocast of the forward pass and the loss, channels_last, Adam; random "
            f"inputs on the GPU, so no loader), {settings.get('steps', '?')} timed steps after "
            f"{settings.get('warmup', '?')} untimed ones; *compiled* is `TrainConfig(compile=True)`, its compile "
            "time is the untimed steps':",
            "",
            *throughput_table(rows),
            "",
        ]
    return lines
