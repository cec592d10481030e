"""The README's papermill examples run as documented (at smoke size, one epoch), so the
documentation cannot drift from the code."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- papermill-examples"


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text[text.index(MARKER) :]
    body = re.search(r"```bash\n(.*?)```", block, re.S).group(1)
    return [line.strip() for line in body.splitlines() if line.strip().startswith(".venv/bin/papermill")]


def test_the_readme_documents_papermill_examples():
    commands = _commands()
    assert len(commands) >= 3 and any("--help-notebook" in c for c in commands)
    assert all("-p profile smoke" in c and "-p epochs 1" in c for c in commands if "--help-notebook" not in c)


@pytest.mark.parametrize("command", _commands())
def test_readme_papermill_command_runs(command, tmp_path):
    args = shlex.split(command)
    args[0] = str(Path(sys.executable).parent / "papermill")
    args = [str(tmp_path / "out.ipynb") if a == "out.ipynb" else a for a in args]
    env = {**os.environ, "CXRLIB_RESULTS_DIR": str(tmp_path / "results"), "CXRLIB_PROGRESS": "0", "MPLBACKEND": "Agg"}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    if "--help-notebook" in command:
        for name in ("backbones", "output_stride", "epochs", "seeds", "device"):
            assert name in done.stdout
    else:
        assert (tmp_path / "results" / "01_baseline.json").exists()
