"""Study 07: the figures of the result (a mixin of :class:`~cxrlib.studies.defer.result.DeferResult`):
the cost sweep, risk–coverage curves, the weak clinician and the deferred images."""

from __future__ import annotations

import numpy as np
import torch

from ...defer import Rule

__all__ = ["DeferFigures"]


class DeferFigures:
    """The figures of :class:`~cxrlib.studies.defer.result.DeferResult`, drawn from its sweeps, curves and
    test data."""

    def sweep_figure(self, name: str):
        """Coverage against kept-set accuracy, kept-set AUROC and system accuracy over the cost sweep, and
        coverage against the cost, for every rule on class ``name`` (``"all"``: every decision; ``"images"``:
        coverage in images, accuracy of whole images)."""
        from ... import plots

        sweep = self._sweeps()
        part = sweep[sweep["class"] == name]
        mean = part.groupby(["rule", "cost"])[["coverage", "kept accuracy", "kept AUROC", "system accuracy"]].mean()
        mean = mean.reset_index()
        mean["rule"] = mean["rule"].map(self.label)
        base = self.no_deferral().loc[name]
        references = {
            "classifier alone": float(base["classifier accuracy"]),
            "clinician alone": float(base["clinician accuracy"]),
        }
        what = {"all": "every decision", "images": "whole images"}.get(name, name)
        title = f"{what}: the cost sweep c ∈ (0, 0.5), mean over {len(self.runs)} seed(s)"
        unit = "images" if name == "images" else "decisions"
        order = [self.label(r) for r in self.rule_names]
        return plots.deferral_sweep(mean, references, title=title, order=order, unit=unit)

    def risk_coverage_figure(self):
        """Risk (error rate among the kept decisions) against coverage, per class, every rule; mean over seeds."""
        from ... import plots

        panels = {
            name: {self.label(rule): _mean_curve(self.runs, "curves", rule, name) for rule in self.rule_names}
            for name in self.classes
        }
        return plots.coverage_curves(panels, "risk (error rate of the kept decisions)", "Risk–coverage curves")

    def weak_figure(self):
        """System accuracy against coverage on the weak class, with the usual and with the weak clinician."""
        from ... import plots

        k = self.settings.weak_class
        panels = {
            "usual clinician": {self.label(r): _mean_curve(self.runs, "system_curves", r, k) for r in self.rule_names},
            "weak clinician": {
                self.label(r): _mean_curve(self.runs, "weak_system_curves", r, k) for r in self.rule_names
            },
        }
        base = self.no_deferral().loc[k]
        references = {
            "usual clinician": {"clinician alone": float(base["clinician accuracy"])},
            "weak clinician": {"clinician alone": float(base["weak clinician accuracy"])},
        }
        return plots.coverage_curves(
            panels, "system accuracy", f"{k}: model + clinician, by coverage", references=references
        )

    def overlay_figure(self, name: str | None = None, per_side: int = 2):
        """Test images of class ``name`` (default: the class the error model defers most at the headline
        cost) deferred vs kept at the headline cost, per rule, with the Grad-CAM map of that class (the
        classifier's; the surrogate's own for the surrogate). First seed."""
        from ... import plots

        run, c = self.runs[0], self.settings.cost
        if run.test_maps is None:
            return None
        if name is None:
            defer = run.rules[Rule.ERROR_MODEL.value].defer(c)
            known = ~np.isnan(self.labels)
            name = self.classes[int(np.argmax((defer & known).sum(0)))]
        k = self.classes.index(name)
        y = self.labels[:, k]
        rows, maps = {}, {}
        for rule_name, rule in run.rules.items():
            known = np.flatnonzero(~np.isnan(y))
            score = rule.deferral_score[known, k]
            deferred = known[np.argsort(-score, kind="stable")][: (score > c).sum()][:per_side]
            kept = known[np.argsort(score, kind="stable")][: (score <= c).sum()]
            kept = [i for i in kept if y[i] == 1][:per_side] or list(kept[:per_side])
            picks = [(int(i), True) for i in deferred] + [(int(i), False) for i in kept]
            rows[self.label(rule_name)] = [
                (
                    i,
                    f"{'deferred' if d else 'kept'}: y={int(y[i])}, ŷ={int(rule.predictions[i, k])}\n"
                    f"score {rule.deferral_score[i, k]:.2f}",
                    d,
                )
                for i, d in picks
            ]
            use = run.surrogate_maps if rule_name == Rule.SURROGATE.value else run.test_maps
            maps[self.label(rule_name)] = use[:, k]
        images = torch.stack([self.test_data[i]["image"] for i in range(len(self.test_data))])
        shown = sorted({i for picks in rows.values() for i, _, _ in picks})
        outlines = None
        if self.test_data.has_masks:  # the finding's own mask, so "the map is on the finding" can be seen
            outlines = {i: self.test_data[i]["masks"][k].numpy() for i in shown}
        return plots.deferral_examples(
            images,
            maps,
            rows,
            title=f"{name}: deferred vs kept at c = {c:g}",
            outlines=outlines,
            outline_label=f"{name} (ground-truth mask)",
        )


def _mean_curve(runs: list, which: str, rule: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The mean over ``runs`` (the result's :class:`DeferSeedRun` s) of their ``which`` curve of ``rule``
    on ``name``: the first run's x values and the mean of the y values."""
    curves = [getattr(r, which)[(rule, name)] for r in runs]
    return curves[0][0], np.mean([c[1] for c in curves], axis=0)
