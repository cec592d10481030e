"""Figures: image galleries with boxes and masks, label distributions, training curves, saliency
overlays, reliability diagrams and deferral plots. Each function draws into a new figure and returns it.

Imported in a notebook, this package makes every figure shown there keep its text legible on the
book's page (:mod:`cxrlib.legibility`)."""

from __future__ import annotations

from ..legibility import install_notebook_hook
from .colors import CLASS_COLORS, finding_color, legend_below
from .curves import (
    group_distributions,
    per_class_heatmap,
    prior_precision_search,
    reliability_diagram,
    runs_scatter,
    training_curves,
    value_histograms,
)
from .defer import coverage_curves, deferral_examples, deferral_sweep
from .images import image_gallery, label_distribution, saliency_overlays

__all__ = [
    "per_class_heatmap",
    "runs_scatter",
    "group_distributions",
    "image_gallery",
    "label_distribution",
    "training_curves",
    "legend_below",
    "saliency_overlays",
    "reliability_diagram",
    "coverage_curves",
    "deferral_sweep",
    "deferral_examples",
    "value_histograms",
    "prior_precision_search",
    "CLASS_COLORS",
    "finding_color",
]

# in a notebook, every figure is shown with text no smaller than legibility.MIN_TEXT_PT (see there)
install_notebook_hook()
