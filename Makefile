# racelab: every target does its own set-up on a fresh machine that has Python 3.11+, make and the
# package registries: a private uv in .tools/, then the locked environment in .venv/.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced
ARGS ?=
CHROMIUM ?= /usr/bin/chromium
NODE ?= /usr/bin/node

.PHONY: run serve test check lint types fmt clean

run: $(SYNCED)  ## the main job: the scenario suite against the embedded simulator
	$(VENV)/bin/racelab run $(ARGS)

serve: $(SYNCED)
	$(VENV)/bin/racelab serve $(ARGS)

test: $(SYNCED) $(CHROMIUM) $(NODE)  ## the whole test suite (Debian's chromium: the report's browser test; nodejs: the examples)
	$(VENV)/bin/pytest $(ARGS)

check: lint types test

lint: $(SYNCED)
	$(VENV)/bin/ruff check simulator harness tests
	$(VENV)/bin/ruff format --check simulator harness tests

types: $(SYNCED)
	$(VENV)/bin/mypy

fmt: $(SYNCED)
	$(VENV)/bin/ruff format simulator harness tests
	$(VENV)/bin/ruff check --fix simulator harness tests

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(SYNCED): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON)
	@# Our own modules as bytecode too (uv compiles the installed packages: pyproject's compile-bytecode). Python
	@# still checks each against its source, so an edited module is never run stale.
	$(VENV)/bin/python -m compileall -q simulator harness
	@touch $@

# Debian's chromium, never a browser download. Installed as root, or through sudo when there is one.
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "make: $(CHROMIUM) is missing; install Debian's chromium package" >&2; exit 1; }
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y --no-install-recommends chromium

# Debian's nodejs (the example integrations' runtime), never a download. Installed as the chromium rule does.
$(NODE):
	@command -v apt-get >/dev/null || { echo "make: $(NODE) is missing; install Debian's nodejs package" >&2; exit 1; }
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y --no-install-recommends nodejs

clean:
	rm -rf .tools $(VENV) .pytest_cache .mypy_cache .ruff_cache
