"""One switch for progress bars: on for interactive use, off for the book build (CXRLIB_PROGRESS=0)."""

import os

__all__ = ["progress_enabled"]


def progress_enabled(requested: bool = True) -> bool:
    """``requested`` unless ``$CXRLIB_PROGRESS`` is ``0`` (the runner sets it so executed notebooks stay clean)."""
    return bool(requested) and os.environ.get("CXRLIB_PROGRESS", "1") != "0"
