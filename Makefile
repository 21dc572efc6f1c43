# focusrig: two commands on a fresh machine.
#   make demo   run the back-button-focus story on the virtual Pico
#   make test   bootstrap everything and run all checks
VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: all demo test unit typecheck mpy pins docs docs-if-possible bench clean distclean system-deps venv

all: test

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# Debian tools used by some checks (graphviz for wireviz, sigrok-cli, chromium).
# Best effort: tests that need a missing tool skip with a message.
system-deps:
	@bash tools/install_system_deps.sh

pins: $(STAMP)
	$(PY) -m focusrig.pinmap --write
	$(PY) -m focusrig.jigpins --write

demo: $(STAMP)
	$(VENV)/bin/focusrig demo --out build/demo

typecheck: $(STAMP)
	$(PY) tools/typeshed_link.py
	$(VENV)/bin/pyright -p pyrightconfig.json

mpy: $(STAMP)
	$(PY) tools/compile_mpy.py

docs: $(STAMP)
	$(PY) -m focusrig.wiring --out hardware/diagrams

# diagrams need graphviz's dot; without it they are checked (YAML vs pin map) but not redrawn
docs-if-possible: $(STAMP)
	@if command -v dot >/dev/null 2>&1; then $(PY) -m focusrig.wiring --out hardware/diagrams; \
	 else echo "docs: graphviz (dot) not installed: diagrams not regenerated (make system-deps)"; fi

bench: $(STAMP)
	$(PY) tools/bench.py all

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: $(STAMP) system-deps
	$(PY) -m focusrig.pinmap --check
	$(PY) -m focusrig.jigpins --check
	$(MAKE) --no-print-directory docs-if-possible mpy typecheck
	$(VENV)/bin/pytest -q

clean:
	rm -rf build .pytest_cache

distclean: clean
	rm -rf $(VENV)
