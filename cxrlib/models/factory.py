"""One constructor for every model of the suite: the pooled classifiers of
:mod:`cxrlib.models.backbones` and the models with a decoder of :mod:`cxrlib.models.pylon` and
:mod:`cxrlib.models.baselines`. It sits above all of them, so none of them imports it."""

from __future__ import annotations

from .backbones import MAP_ARCHITECTURES, Backbone, CXRClassifier, Pooling, build_classifier
from .baselines import build_map_model
from .pylon import MapClassifier

__all__ = ["build_model"]


def build_model(
    backbone: Backbone | str,
    num_classes: int,
    pretrained: bool = False,
    in_chans: int = 1,
    pooling: Pooling | str = Pooling.AVG,
    dropout: float | None = None,
    output_stride: int | None = None,
    **options,
) -> CXRClassifier | MapClassifier:
    """Build a classifier (a :class:`~cxrlib.models.pylon.MapClassifier` for the map architectures).

    ``backbone`` is one of :class:`~cxrlib.models.Backbone`'s values (see
    :func:`~cxrlib.models.backbones.build_classifier` for ``pooling``, ``dropout`` and
    ``output_stride``), or one of the models with a decoder of
    :data:`~cxrlib.models.backbones.MAP_ARCHITECTURES` (``"pylon"``, ``"gmp"``, ``"li2018"``,
    ``"unet"``, ``"fpn"``, ``"deeplabv3plus"``, ``"pan"``; see :mod:`cxrlib.models.pylon`), which take
    ``encoder=`` (a segmentation-models-pytorch encoder, default ``"resnet50"``) and their own keyword
    ``options`` (PYLON's ablation switches) instead of ``pooling``, ``dropout`` and ``output_stride``.
    """
    if getattr(backbone, "value", backbone) in MAP_ARCHITECTURES:
        if pooling != Pooling.AVG or dropout is not None or output_stride is not None:
            raise ValueError(f"{backbone} has its own pooling and map stride: drop pooling, dropout and output_stride")
        return build_map_model(str(backbone), num_classes, pretrained=pretrained, in_chans=in_chans, **options)
    if options:
        raise TypeError(f"build_model({backbone!r}) got unexpected options {sorted(options)}")
    return build_classifier(backbone, num_classes, pretrained, in_chans, pooling, dropout, output_stride)
