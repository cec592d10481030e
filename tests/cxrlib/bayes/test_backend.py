"""laplace-torch's import shows no TorchScript FutureWarning, and only that warning is filtered."""

import subprocess
import sys


def _warnings_of(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stderr


def test_the_plain_import_warns_so_the_filter_is_needed():
    # if a later laplace-torch or torch drops the warning, this test says so and the filter can go
    assert "torch.jit.script` is deprecated" in _warnings_of("import laplace")


def test_the_quiet_import_shows_no_torchscript_warning():
    assert "torch.jit.script" not in _warnings_of("from cxrlib.bayes.backend import laplace_torch; laplace_torch()")


def test_other_warnings_still_show():
    code = (
        "import warnings\n"
        "from cxrlib.bayes.backend import laplace_torch\n"
        "laplace_torch()\n"
        "warnings.warn('another warning', UserWarning)\n"
        "warnings.warn('`torch.jit.script` is deprecated, said from elsewhere', FutureWarning)\n"
    )
    stderr = _warnings_of(code)  # the filter is scoped to the import and to torch.jit's own module
    assert "another warning" in stderr and "said from elsewhere" in stderr
