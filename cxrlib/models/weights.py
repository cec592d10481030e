"""ImageNet weights from local files only: where each backbone's file is looked for, and a clear stop
when it is not there.

The sources of studies 01, 02, 04, 05 and 07 (and the PYLON thesis) start from ImageNet weights, so
their ``full`` profiles do too. These machines (and many hospital GPU boxes) have no internet, so
nothing here downloads: :func:`require_imagenet_weights` checks, before any training, that every
file is where torchvision (``$TORCH_HOME/hub/checkpoints``) or segmentation-models-pytorch (the
Hugging Face cache, ``$HF_HOME/hub``) reads it from, and otherwise raises
:class:`MissingWeightsError` naming the file, the folder, the address to fetch it from on a machine
with internet, and ``-p pretrained False`` as the other way out.

The 1-channel stem the models use is made from the 3-channel ImageNet stem by summing its weights
over RGB (torchxrayvision does the same), in :func:`cxrlib.models.backbones.build_classifier`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision

from .protocol import MAP_ARCHITECTURES

__all__ = ["MissingWeightsError", "WeightsFile", "imagenet_weights_file", "require_imagenet_weights"]

#: the torchvision weights each pooled classifier's ImageNet start uses
TORCHVISION_WEIGHTS = {
    "densenet121": "DenseNet121_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet101": "ResNet101_Weights",
    "vgg19": "VGG19_Weights",
}


class MissingWeightsError(FileNotFoundError):
    """An ImageNet weights file a run needs is not on this machine."""


@dataclass(frozen=True)
class WeightsFile:
    """Where one backbone's ImageNet weights are read from.

    ``path``: the file the library reads (``None`` where only the folder is known, for a Hugging
    Face snapshot); ``folder``: the cache folder; ``url``: where to fetch it on a machine with internet.
    """

    backbone: str
    path: Path | None
    folder: Path
    url: str
    present: bool


def _torchvision_file(backbone: str) -> WeightsFile:
    weights = getattr(torchvision.models, TORCHVISION_WEIGHTS[backbone]).IMAGENET1K_V1
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    path = folder / Path(weights.url).name
    return WeightsFile(backbone, path, folder, weights.url, path.is_file())


def _smp_file(encoder: str) -> WeightsFile:
    from huggingface_hub import constants, try_to_load_from_cache
    from segmentation_models_pytorch.encoders import encoders

    if encoder not in encoders or "imagenet" not in encoders[encoder]["pretrained_settings"]:
        raise ValueError(f"encoder {encoder!r} has no ImageNet weights in segmentation-models-pytorch")
    setting = encoders[encoder]["pretrained_settings"]["imagenet"]
    repo, revision = setting["repo_id"], setting.get("revision")
    found = try_to_load_from_cache(repo, "model.safetensors", revision=revision)
    folder = Path(constants.HF_HUB_CACHE)
    path = Path(found) if isinstance(found, str) else None
    url = f"https://huggingface.co/{repo}"
    return WeightsFile(encoder, path, folder, url, path is not None)


def imagenet_weights_file(backbone: str, *, encoder: str | None = None) -> WeightsFile:
    """Where ``backbone``'s ImageNet weights are looked for, and whether they are there.

    ``backbone``: a pooled classifier's backbone (``densenet121``, ``resnet50``, ``resnet101``,
    ``vgg19``) or a decoder architecture (``pylon``, ``gmp``, ``fpn``...), whose weights are its
    ``encoder``'s (default ``resnet50``) from segmentation-models-pytorch.
    """
    name = str(getattr(backbone, "value", backbone))
    if name in TORCHVISION_WEIGHTS:
        return _torchvision_file(name)
    if name in MAP_ARCHITECTURES:
        return _smp_file(encoder or "resnet50")
    raise ValueError(
        f"backbone {name!r} has no ImageNet weights (those with weights: {sorted(TORCHVISION_WEIGHTS)} "
        f"and the decoder models {list(MAP_ARCHITECTURES)}); run it with pretrained=False"
    )


def _how_to_fetch(file: WeightsFile) -> str:
    if file.url.startswith("https://huggingface.co/"):
        repo = file.url.removeprefix("https://huggingface.co/")
        return (
            f"on a machine with internet run `huggingface-cli download {repo}` and copy the cache it fills "
            f"into {file.folder} (or point HF_HOME at a copied cache)"
        )
    return f"download {file.url} on a machine with internet and copy it to {file.folder / Path(file.url).name}"


def require_imagenet_weights(backbones: Iterable[str], *, encoder: str | None = None) -> list[WeightsFile]:
    """Check, before anything trains, that every backbone's ImageNet weights file is on disk.

    Returns the files found; raises :class:`MissingWeightsError` listing every missing one (file,
    folder, where to fetch it) and the way to run without them (``-p pretrained False``). Backbones
    without ImageNet weights (``small-cnn``, ``vilter-cnn``) raise ``ValueError``.
    """
    files = [imagenet_weights_file(b, encoder=encoder) for b in dict.fromkeys(backbones)]
    missing = [f for f in files if not f.present]
    if missing:
        lines = []
        for f in missing:
            name = f.path.name if f.path else "model.safetensors"
            lines.append(f"- {f.backbone}: {name} is not in {f.folder}; {_how_to_fetch(f)}")
        raise MissingWeightsError(
            "this run starts from ImageNet weights (pretrained=True), but nothing is downloaded at run time "
            "and these files are missing:\n"
            + "\n".join(lines)
            + "\nPut them there (TORCH_HOME / HF_HOME move the folders), or run from scratch with "
            "`-p pretrained False` (papermill) or pretrained=False."
        )
    return files
