"""Transfer learning: freeze part of a model (its parameters and its BatchNorm statistics), unfreeze
it, start it from another model's weights, and put it in training mode without waking frozen layers."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .distributed import FROZEN_STATISTICS_FLAG

__all__ = ["freeze", "unfreeze", "transfer_weights", "train_mode"]


_NORMS = (torch.nn.modules.batchnorm._BatchNorm,)


def freeze(model: torch.nn.Module, *prefixes: str, batchnorm_statistics: bool = True) -> list[str]:
    """Set ``requires_grad=False`` on parameters whose name starts with a prefix; returns their names.

    With ``batchnorm_statistics=True`` (the default) the BatchNorm layers under those prefixes are
    frozen too: :func:`fit` keeps them in eval mode, so their running mean and variance stay as they
    are and they normalise with them (a frozen encoder then computes the same features in every
    epoch, as two-phase transfer expects). ``False`` lets their statistics follow the new data.
    """
    names = []
    for name, p in model.named_parameters():
        if any(name.startswith(pre) for pre in prefixes):
            p.requires_grad_(False)
            names.append(name)
    if not names:
        raise ValueError(f"no parameter starts with {prefixes}")
    if batchnorm_statistics:
        for name, module in model.named_modules():
            if isinstance(module, _NORMS) and any(
                (name + ".").startswith(pre) or name.startswith(pre) for pre in prefixes
            ):
                setattr(module, FROZEN_STATISTICS_FLAG, True)
    return names


def unfreeze(model: torch.nn.Module) -> None:
    """Make every parameter trainable and every BatchNorm layer's statistics free again."""
    for p in model.parameters():
        p.requires_grad_(True)
    for module in model.modules():
        if hasattr(module, FROZEN_STATISTICS_FLAG):
            delattr(module, FROZEN_STATISTICS_FLAG)


def transfer_weights(
    model: torch.nn.Module, source_state: Mapping[str, torch.Tensor], new: tuple[str, ...] = ("classifier.",)
) -> list[str]:
    """Start ``model`` from another model's weights (transfer learning): copy every entry of
    ``source_state`` (a ``state_dict``) into ``model`` except those whose name starts with a prefix in
    ``new`` (by default the class head, which stays freshly initialised, as when the target data has
    other classes). Every other entry of ``model`` must be in ``source_state`` with the same shape, and
    the source may have no entry the model lacks, else a ``ValueError`` names the first ones that
    differ. Returns the names copied."""
    own = model.state_dict()
    wanted = [k for k in own if not k.startswith(new)]
    missing = [k for k in wanted if k not in source_state]
    wrong = [k for k in wanted if k in source_state and source_state[k].shape != own[k].shape]
    extra = [k for k in source_state if k not in own and not k.startswith(new)]
    if missing or wrong or extra:
        raise ValueError(
            "the source weights do not fit this model (another architecture or encoder?): "
            + (f"missing {missing[:5]} " if missing else "")
            + (f"shape differs for {wrong[:5]} " if wrong else "")
            + (f"not in this model: {extra[:5]}" if extra else "")
        )
    model.load_state_dict({**own, **{k: source_state[k] for k in wanted}})
    return wanted


def train_mode(model: torch.nn.Module) -> None:
    """``model.train()``, except BatchNorm layers frozen by :func:`freeze`, which stay in eval mode."""
    model.train()
    for module in model.modules():
        if getattr(module, FROZEN_STATISTICS_FLAG, False):
            module.eval()
