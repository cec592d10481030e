"""The book's page "What this scale can show" (``book/scale.md``), written at every build.

For every notebook: the settings of the profile this build ran and of ``full`` (read from the study's
presets, never typed), what this build took (``results/_runner.json``), and what a run at this scale
can and cannot show. The last two are editorial and live in :data:`SCALE_NOTES`, one entry per
notebook (a test keeps it complete).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from .performance_format import format_duration

__all__ = ["SCALE_NOTES", "profile_summary", "notebook_title", "scale_markdown", "write_scale_guide"]

#: notebook → (what a CPU-profile run can show, what it cannot), in a reader's words
SCALE_NOTES: dict[str, tuple[str, str]] = {
    "00_data": (
        "what the generator draws (anatomy, findings with masks and boxes, uncertain labels, readers, the "
        "shortcut marker), how label policies and the patient split work, and real NIH images beside it.",
        "the statistics of a real dataset at its true size: only the 21 NIH images shipped with cxrlib are real.",
    ),
    "01_baseline": (
        "the training pipeline end to end and per-class AUROC on synthetic findings.",
        "the source's CheXpert AUROCs: other data, 64 px, small networks trained from scratch.",
    ),
    "02_saliency_losses": (
        "whether the class-distinctiveness and spatial-coherence terms change AUROC and the maps, on equal "
        "terms over several seeds, and what they cost per training step.",
        "the source's DenseNet-121 at 224 px on CheXpert; a difference smaller than the seed-to-seed spread.",
    ),
    "03_heatmap_loss": (
        "where HiResCAM puts its mass with and without the heatmap loss, against known heart masks and a "
        "planted shortcut, with the source's tests (Shapiro–Wilk, Mann–Whitney U).",
        "the authors' own cardiac MRI data; p-values comparable with theirs, which depend on their group sizes.",
    ),
    "04_imbalance_losses": (
        "weighted BCE, focal loss and AUC-M compared under a prevalence the generator controls, including a "
        "sweep of the training prevalence.",
        "Table 4.2's CheXpert numbers; AUC-M's behaviour at CheXpert's size.",
    ),
    "05_calibration": (
        "ECE before and after temperature scaling for each loss, and MIMO against a single model and an "
        "ensemble on the same budget.",
        "ECE values of a DenseNet-121 on CheXpert; MIMO at a capacity where its members can differ.",
    ),
    "06_laplace": (
        "the last-layer Laplace structures (diagonal, Kronecker, full) against the plain network in "
        "accuracy, ECE and NLL, and their fit and prior-search times, on a MURA-like synthetic task.",
        "the source's MURA numbers; timings at the hours scale the source reports.",
    ),
    "07_defer": (
        "every deferral rule compared on the same predictions (cost sweeps, risk–coverage, equal-coverage "
        "differences), and whether balancing the error model's training set helps.",
        "a real clinician: the simulated one errs independently of the image, so system accuracy is "
        "optimistic for every rule; the source planned MIMIC-CXR and reported no numbers.",
    ),
    "08_pylon": (
        "PYLON against the GMP baseline and other decoders on equal terms, scored against ground-truth boxes.",
        "localisation at the thesis's resolution: at 64 px the GMP baseline's map is 2×2 cells and small "
        "findings cover a few pixels, so point accuracy is near its floor for every model and the "
        "small-lesion claim cannot be tested.",
    ),
    "09_pylon_ablations": (
        "the protocol of the ablations, the GAP variants' seed stability and the two-phase transfer, with "
        "the readers' union as the target's truth.",
        "effects of the thesis's size (0.02–0.05 point accuracy): far inside what a few seeds at 64 px resolve.",
    ),
    "10_reliability_report": (
        "every section of the reliability report filled on data with known truth, the recalibrations and the "
        "Laplace predictive side by side, and the same model on real NIH images it never saw.",
        "the reliability of a model trained on a real dataset: 21 NIH images give wide intervals, and their "
        "report has no validation split, no subgroup of 20 images and no region masks.",
    ),
}

_SHOWN = {
    "dataset": "{}",
    "image_size": "{} px",
    "n": "{} images",
    "epochs": "{} epochs",
    "backbone": "{}",
    "encoder": "{}",
}


def profile_summary(settings: Any) -> str:
    """One line for a study's settings: dataset, image size, images, epochs, network, seeds, weights."""
    fields = dataclasses.asdict(settings)
    parts = [form.format(fields[key]) for key, form in _SHOWN.items() if fields.get(key) not in (None, "", ())]
    seeds = fields.get("seeds")
    if isinstance(seeds, (list, tuple)) and seeds:
        parts.append(f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}")
    if "pretrained" in fields:
        parts.append("ImageNet weights" if fields["pretrained"] else "trained from scratch")
    return ", ".join(str(p) for p in parts)


def notebook_title(path: Path) -> str | None:
    """The first heading of a notebook's first markdown cell (``00 · The data``), or None."""
    try:
        cells = json.loads(Path(path).read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            first = "".join(cell.get("source", [])).strip().splitlines()[:1]
            return first[0].lstrip("#").strip() if first and first[0].startswith("#") else None
    return None


def scale_markdown(runner: dict | None, titles: dict[str, str] | None = None) -> str:
    """The page from the runner's record (profile and seconds per notebook; None before any run);
    ``titles``: notebook → its title (default: the notebook's name)."""
    from .studies import STUDY_RUNNERS

    profile = (runner or {}).get("profile", "default")
    seconds = (runner or {}).get("seconds") or {}
    machine = (runner or {}).get("machine") or {}
    lines = [
        "# What this scale can show",
        "",
        f"This build ran every notebook on the **{profile}** profile. The CPU profiles train small networks "
        "from scratch on a few hundred to a few thousand synthetic images of 64 px, so that the whole book "
        "builds on a laptop; the `full` profile of each notebook is the scale its source worked at (image size, "
        "epochs, seeds, network; still on synthetic data unless `dataset` and `data_root` name the real one) and "
        "needs a GPU box. What carries over from a CPU run is the comparison on equal terms (same data, schedule and "
        "seeds for every arm) and the measurements themselves; what does not is every absolute number, "
        "which is why the {doc}`scorecard` marks them *not comparable*.",
        "",
    ]
    if seconds:
        where = machine.get("gpu") or (
            f"{machine['cpu_model']} ({machine.get('cpu_cores', '?')} cores)"
            if machine.get("cpu_model")
            else "this machine"
        )
        lines += [
            f"The notebooks took {format_duration(sum(seconds.values()))} in all on {where} "
            f"(per notebook below; the {{doc}}`performance` page has the rest of the build).",
            "",
        ]
    for name, (settings_fn, _) in STUDY_RUNNERS.items():
        can, cannot = SCALE_NOTES[name]
        this = settings_fn(profile)
        full = settings_fn("full")
        took = f" Took {format_duration(seconds[name])} here." if name in seconds else ""
        title = (titles or {}).get(name) or name
        lines += [
            f"## {title}",
            "",
            f"- **The notebook**: {{doc}}`notebooks/{name}`.",
            f"- **This build ({profile})**: {profile_summary(this)}.{took}",
            f"- **`full`**: {profile_summary(full)}; a GPU box (not measured on this machine).",
            f"- **Can show**: {can}",
            f"- **Cannot show**: {cannot}",
            "",
        ]
    return "\n".join(lines)


def write_scale_guide(root: str | Path = ".") -> Path:
    """Write ``book/scale.md`` from ``results/_runner.json`` (if any)."""
    root = Path(root)
    runner_file = root / "results" / "_runner.json"
    runner = json.loads(runner_file.read_text()) if runner_file.exists() else None
    titles = {p.stem: notebook_title(p) for p in sorted((root / "notebooks").glob("*.ipynb"))}
    path = root / "book" / "scale.md"
    path.write_text(scale_markdown(runner, {k: v for k, v in titles.items() if v}))
    return path
