"""pyproject.toml declares ranges; constraints.txt pins what make and CI install; environment.yml is the
first with the second's versions in place."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[;]", req, maxsplit=1)[0]


def _constraints() -> dict[str, str]:
    lines = [ln.strip() for ln in (ROOT / "constraints.txt").read_text().splitlines()]
    return {_name(_norm(ln)): _norm(ln) for ln in lines if ln and not ln.startswith("#")}


def test_the_package_declares_ranges_and_the_constraints_pin_them():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(_norm(r)): _norm(r) for r in project["dependencies"]}
    for name in ("torch", "torchvision", "numpy"):  # a GPU box's own CUDA torch and newer numpy must satisfy them
        assert "==" not in declared[name] and ">=" in declared[name], declared[name]
    pins = _constraints()
    assert pins["torch"] == "torch==2.14.1" and pins["torchvision"] == "torchvision==0.29.1"
    assert set(pins) <= set(declared)


def test_environment_is_pyproject_with_the_constraints_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _constraints()
    wanted = {_norm(r) for r in project["dependencies"]}
    for extra in ("book", "dev"):
        wanted |= {_norm(r) for r in project["optional-dependencies"][extra]}
    wanted = {pins.get(_name(r), r) for r in wanted}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    have = {_norm(r) for r in pip if not r.startswith("-e")}
    assert have == wanted


def test_make_installs_with_the_constraints_unless_the_box_keeps_its_torch():
    makefile = (ROOT / "Makefile").read_text()
    assert "CONSTRAINTS := -c constraints.txt" in makefile and "$(CONSTRAINTS) -e" in makefile
    assert "--system-site-packages" in makefile


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.startswith(("#", "set ", "cd "))]
    assert commands == ["make test"]
    assert "make test" in readme.split("\n## ")[0] and "make book" in readme.split("\n## ")[0]
