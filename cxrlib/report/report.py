"""``reliability_report(model, test, val=None, ...)``: how reliable is *this* model on *this* data.

Any ``torch.nn.Module`` that maps ``(B, 1, H, W)`` images (or the grey image repeated to 3 channels,
``in_channels=3``) to ``(B, K)`` logits, and a :class:`~cxrlib.data.CXRDataset` of any source. Each
section is computed where the data allow it and otherwise states why it is absent:

1. discrimination: per-class AUROC with 95 % intervals by the bootstrap over patients;
2. calibration: ECE, adaptive ECE, Brier, NLL per class and reliability diagrams, for the model and
   after temperature scaling (global and per class) and a last-layer Laplace (Bernoulli), both fitted on
   ``val``;
3. localisation (truth boxes): point localisation, IoBB, map mass inside the boxes, from the model's own
   class maps or Grad-CAM on ``layer``;
4. selective prediction: risk–coverage, AURC, Chow's rule at a few costs;
5. subgroups (sex, age band, view, site): AUROC, ECE and false-negative rate per group, with intervals;
6. a shortcut probe (thorax or marker masks): map mass where the model should not look.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.dataset import CXRDataset
from .bootstrap import PatientBootstrap
from .calibration import calibrated_probabilities, calibration_section
from .discrimination import discrimination_section
from .localization import box_images, localization_section
from .maps_pass import map_pass
from .render import report_fragment, report_html, report_json
from .scoring import Scores, score_dataset
from .section import ReportSection, absent
from .selective import DEFAULT_COSTS, selective_section
from .shortcut import shortcut_section
from .subgroups import subgroups_section

__all__ = ["ReliabilityReport", "reliability_report", "SECTION_KEYS"]

SECTION_KEYS = ("discrimination", "calibration", "localization", "selective", "subgroups", "shortcut")


@dataclass
class ReliabilityReport:
    """The sections, the settings they were computed with, and the scores they came from. Renders in a
    notebook (``_repr_html_``); :meth:`save_html` writes one self-contained file, :meth:`save_json` the
    numbers."""

    title: str
    settings: dict[str, Any]
    sections: list[ReportSection]
    test_scores: Scores | None = field(default=None, repr=False)
    seconds: dict[str, float] = field(default_factory=dict)  #: wall time of each step

    def __getitem__(self, key: str) -> ReportSection:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(f"no section {key!r}; the report has {[s.key for s in self.sections]}")

    def html(self) -> str:
        return report_html(self.title, self.settings, self.sections)

    def _repr_html_(self) -> str:
        return report_fragment(self.title, self.settings, self.sections)

    def to_json(self) -> str:
        return report_json(self.settings, self.sections)

    def save_html(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html(), encoding="utf-8")
        return path

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    def close_figures(self) -> None:
        """Take the report's figures out of pyplot's open figures; they still render in the HTML."""
        import matplotlib.pyplot as plt

        for section in self.sections:
            for figure in section.figures.values():
                plt.close(figure)


def _check_data(data: CXRDataset, what: str, classes: list[str] | None = None) -> None:
    if not isinstance(data, CXRDataset):
        raise TypeError(f"{what} must be a cxrlib CXRDataset, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"the {what} split is empty: nothing to report on")
    if classes is not None and list(data.classes) != list(classes):
        raise ValueError(f"{what} has classes {data.classes}, the test split {classes}: they must be the same")


def reliability_report(
    model: torch.nn.Module,
    test: CXRDataset,
    val: CXRDataset | None = None,
    *,
    in_channels: int = 1,
    layer: str | None = None,
    last_layer: str | None = None,
    title: str | None = None,
    n_bootstrap: int = 1000,
    costs: tuple[float, ...] = DEFAULT_COSTS,
    max_map_images: int = 300,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    seed: int = 0,
    progress: bool = False,
) -> ReliabilityReport:
    """The reliability report of ``model`` on ``test`` (see the module).

    ``in_channels``: 1 (grey) or 3 (the grey image repeated, for ImageNet-style models). ``layer``: the
    layer for Grad-CAM where the model has no class-map head of its own. ``last_layer``: the model's
    linear last layer (for the last-layer Laplace; e.g. ``"classifier"`` for cxrlib's classifiers, ``"fc"``
    for a torchvision ResNet). ``val``: the split temperature scaling and the Laplace are fitted on.
    ``n_bootstrap``: resamples of the patients. ``max_map_images``: images with a truth box mapped for
    localisation and the shortcut probe.

    Raises ``ValueError`` for logits of the wrong width, NaN logits (naming the image), an empty split
    or a ``val`` whose classes differ from ``test``'s.
    """
    _check_data(test, "test")
    classes = list(test.classes)
    if val is not None:
        _check_data(val, "val", classes)
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        seconds[step] = now - clock[0]
        clock[0] = now

    head = None
    if last_layer is not None:
        from ..bayes import last_linear_layer

        head = last_linear_layer(model, last_layer)
    options = {"in_channels": in_channels, "batch_size": batch_size, "device": device, "progress": progress}
    test_scores = score_dataset(model, test, classes, last_layer=last_layer, what="test", **options)
    val_scores = (
        score_dataset(model, val, classes, last_layer=last_layer, what="val", **options) if val is not None else None
    )
    lap("scoring")
    bootstrap = PatientBootstrap.draw(test_scores.table["patient_id"], n_bootstrap, seed)
    sections = [discrimination_section(test_scores, classes, bootstrap)]
    lap("discrimination")
    methods, notes, fitted = calibrated_probabilities(test_scores, val_scores, classes, head)
    sections.append(calibration_section(test_scores, methods, classes, notes, fitted))
    lap("calibration")
    positions, boxes = box_images(test, classes, max_map_images) if len(test.boxes) else (np.zeros(0, int), None)
    maps, map_error = None, None
    has_regions = any(name in test[0] for name in ("marker_mask", "thorax_mask"))
    mapped = positions if len(positions) else (np.arange(min(len(test), max_map_images)) if has_regions else positions)
    if len(mapped):
        try:
            maps = map_pass(model, test, mapped, layer=layer, in_channels=in_channels, device=device)
        except ValueError as err:
            map_error = str(err)
    lap("class maps")
    if len(positions) == 0:
        sections.append(absent("localization", "Localisation", "the test split has no truth boxes for these classes"))
    elif maps is None:
        sections.append(absent("localization", "Localisation", map_error or "no class maps"))
    else:
        sections.append(localization_section(test, classes, maps, boxes))
    lap("localization")
    sections.append(selective_section(methods, test_scores.labels, costs))
    lap("selective")
    sections.append(subgroups_section(test_scores, bootstrap))
    lap("subgroups")
    if maps is None:
        reason = map_error or "the dataset marks no region the model should not need (no thorax or marker mask)"
        sections.append(absent("shortcut", "Shortcut probe", reason))
    else:
        sections.append(shortcut_section(maps, test_scores.labels[maps.positions]))
    lap("shortcut")
    settings = {
        "model": type(model).__name__,
        "dataset": test.name,
        "test images": len(test),
        "test patients": int(test_scores.table["patient_id"].nunique()),
        "validation images": len(val) if val is not None else "none",
        "classes": ", ".join(classes),
        "input": "grey, 1 channel" if in_channels == 1 else "grey repeated to 3 channels",
        "image size": "×".join(map(str, test.image_size)),
        "bootstrap resamples (patients)": n_bootstrap,
        "Grad-CAM layer": layer or "none (the model's own maps, if it has them)",
        "last layer (Laplace)": last_layer or "none",
        "seconds": round(sum(seconds.values()), 1),
    }
    title = title or f"Reliability report: {type(model).__name__} on {test.name}"
    report = ReliabilityReport(title, settings, sections, test_scores, seconds)
    # out of pyplot's list of open figures (they still render into the report): a notebook would otherwise
    # show each one a second time below the cell
    report.close_figures()
    return report
