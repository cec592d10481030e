"""Deferral rules over one interface: each gives, per image and class, the model's answer and a score;
the decision at cost ``c`` is "defer when the score exceeds c".

The cost model is the source's: keeping a decision costs 1 when the model is wrong, deferring it
costs ``c`` (the clinician's time and errors together), so the Bayes rule defers when
P(model wrong | x) > c. Every rule but the surrogate scores its own estimate of that probability:

* **error model**: a network trained on separate images to predict the classifier's mistakes from its
  Grad-CAM maps (and probabilities), :mod:`cxrlib.defer.error_model`;
* **confidence**: the classifier's own probability of being wrong, ``min(p, 1 − p)``, i.e. defer when
  ``|p − 0.5|`` is small (Chow's rule);
* **predictive uncertainty**: the probability of being wrong under a predictive distribution (MC
  dropout, or a last-layer Laplace), for the classifier's own prediction;
* **surrogate**: a network trained end to end with Mozannar and Sontag's (2020) L_CE, per class, which
  estimates both P(model wrong) and P(clinician wrong); its score is their difference, so at ``c → 0``
  it is their rule (defer when the deferral output beats both class outputs) and ``c`` is the cost
  *beyond* the clinician's errors.

**The unit of deferral.** The source defers a whole image: its error model estimates the probability
that *every* finding of the image is classified correctly, and the clinician reads the image. That is
:attr:`DeferralUnit.IMAGE`: one score per image, broadcast over its K columns, so all of an image's
decisions are kept or deferred together (:func:`per_image`). :attr:`DeferralUnit.FINDING` defers each
(image, finding) decision on its own.

All arrays are ``(N, K)``; NaN is not allowed in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import scipy.special

__all__ = [
    "DeferralUnit",
    "Rule",
    "DeferralRule",
    "check_cost",
    "confidence_rule",
    "predictive_rule",
    "error_model_rule",
    "surrogate_rule",
    "any_wrong",
    "per_image",
]


class DeferralUnit(str, Enum):
    IMAGE = "image"  #: the whole image is kept or deferred (the source's: the clinician reads the image)
    FINDING = "finding"  #: each (image, finding) decision is kept or deferred on its own


class Rule(str, Enum):
    ERROR_MODEL = "error-model"  #: error model on the Grad-CAM maps and the probabilities (the source's)
    ERROR_MODEL_PROBS = "error-model-probs"  #: the same network on the probabilities alone (no maps)
    CONFIDENCE = "confidence"  #: |p − 0.5| small
    MC_DROPOUT = "mc-dropout"  #: MC dropout predictive
    LAPLACE = "laplace"  #: multi-label last-layer Laplace predictive
    SURROGATE = "surrogate"  #: Mozannar & Sontag's L_CE, per class, end to end


def check_cost(cost: float) -> float:
    """``cost`` as a float, or ``ValueError`` unless ``0 < cost < 1``."""
    try:
        c = float(cost)
    except (TypeError, ValueError):
        raise ValueError(f"the cost of deferring must be a number in (0, 1), got {cost!r}") from None
    if not 0.0 < c < 1.0:
        raise ValueError(f"the cost of deferring must lie in (0, 1) (the source's range is (0, 0.5)), got {cost!r}")
    return c


@dataclass(frozen=True)
class DeferralRule:
    """One rule's view of a set of images.

    ``predictions (N, K)``: the answer (0 / 1) given where the decision is kept; ``scores (N, K)``: the
    ranking score of the positive class behind it (a logit; AUROC on the kept set); ``deferral_score
    (N, K)``: defer where it exceeds the cost (for every rule but the surrogate, P̂(prediction wrong)).
    ``unit``: :attr:`DeferralUnit.IMAGE` when the deferral score is one number per image (equal across
    its columns), so an image's decisions are kept or deferred together.
    """

    name: str
    predictions: np.ndarray
    scores: np.ndarray
    deferral_score: np.ndarray
    unit: DeferralUnit = DeferralUnit.FINDING

    def __post_init__(self) -> None:
        shapes = {a.shape for a in (self.predictions, self.scores, self.deferral_score)}
        if len(shapes) != 1 or self.predictions.ndim != 2:
            raise ValueError(
                f"rule {self.name!r}: predictions, scores and deferral scores must be (N, K) of one shape, "
                f"got {[a.shape for a in (self.predictions, self.scores, self.deferral_score)]}"
            )
        for what, a in (("scores", self.scores), ("deferral scores", self.deferral_score)):
            if not np.isfinite(a).all():
                raise ValueError(f"rule {self.name!r}: {what} contain NaN or infinity")
        if not np.isin(self.predictions, (0.0, 1.0)).all():
            raise ValueError(f"rule {self.name!r}: predictions must be 0 or 1")
        if DeferralUnit(self.unit) is DeferralUnit.IMAGE and (self.deferral_score != self.deferral_score[:, :1]).any():
            raise ValueError(f"rule {self.name!r}: a per-image rule needs one deferral score per image (equal columns)")

    @property
    def shape(self) -> tuple[int, int]:
        return self.predictions.shape

    def defer(self, cost: float) -> np.ndarray:
        """``(N, K)`` bool: the decisions deferred to the clinician at ``cost`` (``0 < cost < 1``)."""
        return self.deferral_score > check_cost(cost)


def _matrix(x, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{what} must be (N, K), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contain NaN or infinity")
    return a


def _probabilities(x, what: str) -> np.ndarray:
    a = _matrix(x, what)
    if (a < 0).any() or (a > 1).any():
        raise ValueError(f"{what} must lie in [0, 1]")
    return a


def _wrong_if(predictions: np.ndarray, p_positive: np.ndarray) -> np.ndarray:
    """P(the label differs from ``predictions``) when the label is positive with ``p_positive``."""
    return np.where(predictions == 1, 1.0 - p_positive, p_positive)


def confidence_rule(logits: np.ndarray, name: str = "confidence") -> DeferralRule:
    """Predict ``p > 0.5`` (``p = σ(logit)``), defer when ``min(p, 1 − p) > c``."""
    z = _matrix(logits, "logits")
    p = scipy.special.expit(z)
    predictions = (z > 0).astype(np.float64)
    return DeferralRule(name, predictions, z, _wrong_if(predictions, p))


def predictive_rule(logits: np.ndarray, predictive: np.ndarray, name: str) -> DeferralRule:
    """The classifier's prediction (``logit > 0``) and P(it is wrong) under ``predictive (N, K)``: the
    positive-class probability of a predictive distribution (MC dropout mean, Laplace probit...)."""
    z = _matrix(logits, "logits")
    q = _probabilities(predictive, "predictive probabilities")
    if q.shape != z.shape:
        raise ValueError(f"predictive probabilities {q.shape} and logits {z.shape} differ in shape")
    predictions = (z > 0).astype(np.float64)
    return DeferralRule(name, predictions, z, _wrong_if(predictions, q))


def error_model_rule(logits: np.ndarray, p_wrong: np.ndarray, name: str = "error model") -> DeferralRule:
    """The classifier's prediction (``logit > 0``), deferred when the error model's ``p_wrong > c``:
    ``p_wrong (N, K)`` per finding, or ``(N, 1)`` from an image-level error model (the source's), in
    which case the rule defers whole images."""
    z = _matrix(logits, "logits")
    w = _probabilities(p_wrong, "error-model probabilities")
    predictions = (z > 0).astype(np.float64)
    if w.shape == (z.shape[0], 1) and z.shape[1] != 1:
        return DeferralRule(name, predictions, z, _broadcast(w[:, 0], z.shape[1]), DeferralUnit.IMAGE)
    if w.shape != z.shape:
        raise ValueError(f"error-model probabilities {w.shape} and logits {z.shape} differ in shape")
    return DeferralRule(name, predictions, z, w)


def surrogate_rule(
    probs: np.ndarray, name: str = "surrogate", unit: DeferralUnit | str = DeferralUnit.FINDING
) -> DeferralRule:
    """From the surrogate's softmax ``probs (N, K, 3)`` over (negative, positive, defer) per class.

    At L_CE's optimum ``g_y ∝ P(y | x)`` and ``g_⊥ ∝ P(clinician right | x)`` with the same
    normaliser ``1 + P(clinician right | x)``, so ``P̂(model wrong) = min(g_0, g_1) / (g_0 + g_1)`` and
    ``P̂(clinician right) = g_⊥ / (g_0 + g_1)`` (clipped to [0, 1]). The deferral score is
    ``P̂(model wrong) − P̂(clinician wrong)``: deferring when it exceeds ``c`` is the Bayes rule when a
    deferral costs the clinician's error plus ``c``; it is positive exactly where
    ``g_⊥ > max(g_0, g_1)``, Mozannar and Sontag's rule.

    Per image (``unit="image"``) the score is P̂(the model gets some finding wrong) − P̂(the clinician gets
    some finding wrong), each by :func:`any_wrong` over the K findings.
    """
    g = np.asarray(probs, dtype=np.float64)
    if g.ndim != 3 or g.shape[2] != 3:
        raise ValueError(f"surrogate probabilities must be (N, K, 3), got shape {g.shape}")
    if not np.isfinite(g).all() or (g < 0).any() or not np.allclose(g.sum(2), 1.0, atol=1e-5):
        raise ValueError("surrogate probabilities must be finite and sum to 1 over their last axis")
    decide = np.clip(g[..., 0] + g[..., 1], 1e-12, None)
    model_wrong = np.minimum(g[..., 0], g[..., 1]) / decide
    clinician_right = np.clip(g[..., 2] / decide, 0.0, 1.0)
    logits = np.log(np.clip(g[..., 1], 1e-12, None)) - np.log(np.clip(g[..., 0], 1e-12, None))
    predictions = (g[..., 1] > g[..., 0]).astype(np.float64)
    if DeferralUnit(unit) is DeferralUnit.IMAGE:
        score = any_wrong(model_wrong) - any_wrong(1.0 - clinician_right)
        return DeferralRule(name, predictions, logits, _broadcast(score, g.shape[1]), DeferralUnit.IMAGE)
    return DeferralRule(name, predictions, logits, model_wrong - (1.0 - clinician_right))


def any_wrong(p_wrong) -> np.ndarray:
    """``(N,)``: the probability that at least one of an image's K answers is wrong, ``1 − Π_k (1 −
    p_k)``, from per-finding probabilities ``p_wrong (N, K)`` taken as independent."""
    p = _probabilities(p_wrong, "probabilities of a wrong answer")
    return 1.0 - np.prod(1.0 - p, axis=1)


def _broadcast(image_score: np.ndarray, k: int) -> np.ndarray:
    return np.repeat(np.asarray(image_score, dtype=np.float64).reshape(-1, 1), k, axis=1)


def per_image(rule: DeferralRule, image_score=None, name: str | None = None) -> DeferralRule:
    """``rule`` deferring whole images: the same answers, and one deferral score per image, ``image_score
    (N,)`` (an image-level error model's P̂(some finding wrong)) or by default :func:`any_wrong` of the
    rule's per-finding P̂(wrong). The default needs a rule whose score is a probability (not the
    surrogate's difference: build that with ``surrogate_rule(..., unit="image")``)."""
    if DeferralUnit(rule.unit) is DeferralUnit.IMAGE:
        raise ValueError(f"rule {rule.name!r} already defers whole images")
    n, k = rule.shape
    if image_score is None:
        if (rule.deferral_score < 0).any() or (rule.deferral_score > 1).any():
            raise ValueError(
                f"rule {rule.name!r}: its deferral score is not a probability of a wrong answer, so it cannot be "
                "combined over findings; give image_score"
            )
        score = any_wrong(rule.deferral_score)
    else:
        score = np.asarray(image_score, dtype=np.float64).reshape(-1)
        if score.shape != (n,):
            raise ValueError(f"image_score must be one number per image, ({n},), got shape {score.shape}")
    return DeferralRule(name or rule.name, rule.predictions, rule.scores, _broadcast(score, k), DeferralUnit.IMAGE)
