# The README's two commands: `make book` and `make test`. Both create the environment they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PROFILE ?= default
# SYSTEM_TORCH=1: a GPU box that keeps its own CUDA build of torch (and numpy): the environment sees the
# system's packages and installs without constraints.txt's exact versions (README, "On a GPU box")
SYSTEM_TORCH ?= 0
ifeq ($(SYSTEM_TORCH),1)
VENV_FLAGS  := --system-site-packages
CONSTRAINTS :=
else
VENV_FLAGS  :=
CONSTRAINTS := -c constraints.txt
endif

.PHONY: book test env browser clean lab gpu-check

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(CONSTRAINTS) -e ".[book,dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

env: $(VENV)/.installed

# Debian's Chromium + ChromeDriver for the browser test of the built book
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Execute every notebook with papermill under $(PROFILE) and build the Jupyter Book into _build/html
book: env
	$(PY) -m cxrlib.book --profile $(PROFILE)

# Lint, build the book on the smoke profile, then run the whole test suite (unit, notebook numbers, browser)
test: env browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m cxrlib.book --profile smoke
	CXRLIB_REQUIRE_BOOK=1 $(PY) -m pytest -q --durations=25

# On a GPU box: every study on smoke on CUDA, a notebook through papermill, the benchmarks with --device cuda
# and the training-step throughput table; pass/fail and wall times, records under results/benchmarks/.
# On a machine without CUDA it says so and skips the CUDA parts.
gpu-check: env
	$(PY) -m cxrlib.gpu_check

# JupyterLab on the notebooks, with the project's kernel (ipywidgets progress bars work there)
lab: env
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf _build book/notebooks book/scorecard.md results
