"""laplace-torch, imported quietly: its import goes through asdfghjkl, which calls ``torch.jit.script`` and
so makes torch emit a ``FutureWarning`` ("`torch.jit.script` is deprecated") that the executed notebooks
would show with a path inside site-packages. Only that warning, from that module, is filtered; any other
warning of the import still shows."""

from __future__ import annotations

import warnings
from types import ModuleType

__all__ = ["laplace_torch", "TORCHSCRIPT_WARNING"]

#: the message (a regular expression) of the known TorchScript deprecation warning
TORCHSCRIPT_WARNING = r"`torch\.jit\.script` is deprecated"


def laplace_torch() -> ModuleType:
    """The ``laplace`` package (with ``laplace.curvature`` loaded), imported with the known TorchScript
    ``FutureWarning`` of ``torch.jit._script`` filtered."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=TORCHSCRIPT_WARNING, category=FutureWarning, module=r"torch\.jit")
        import laplace
        import laplace.curvature  # noqa: F401 - loaded here, under the filter
    return laplace
