# focusrig: two commands on a fresh machine.
#   make demo   run the back-button-focus story on the virtual Pico
#   make test   bootstrap everything and run all checks
VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: all demo test unit typecheck mpy pins docs docs-if-possible bench soak clean distclean system-deps venv

all: test

# The venv: pinned Python packages, the focusrig command, and the virtual Pico's
# interpreter (MicroPython v1.28.0's unix port with the RP2040's number model, built once
# into ~/.cache/focusrig from the v1.28.0 source; needs gcc-multilib).
$(STAMP): requirements.txt pyproject.toml tools/build_micropython.py $(wildcard host_tools/focusrig/virtual_pico/cmod/* host_tools/focusrig/virtual_pico/cmod/*/*)
	@bash tools/install_system_deps.sh
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps -e .
	$(VENV)/bin/python tools/build_micropython.py --link $(VENV)/bin
	touch $(STAMP)

venv: $(STAMP)

# Debian packages: gcc-multilib (the interpreter's 32-bit build) is required; graphviz
# (WireViz diagrams), sigrok-cli and chromium are best effort (tests that need a missing
# tool skip with a message).
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

# figures for the closing notes; bench_realtime runs both targets side by side (rp2040 needs
# the Node side: make rp2040-deps)
bench: $(STAMP)
	$(PY) tools/bench.py all
	-$(MAKE) --no-print-directory rp2040-deps
	$(PY) tools/bench_realtime.py
	-$(PY) tools/bench_cpu_ops.py
	-$(PY) tools/bench_c_work.py
	-$(PY) tools/bench_alloc.py
	-$(PY) tools/bench_heap.py

# issue 11's long forms (about an hour of wall time): floods, power cuts, the one-hour
# soak, watchdog, faults, storms, on the virtual Pico and the rp2040 target; prints
# every figure (docs/reliability.md). CI runs the short forms in `make test`.
soak: $(STAMP)
	-$(MAKE) --no-print-directory rp2040-deps
	$(PY) tools/soak.py all

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: $(STAMP) system-deps
	$(PY) -m focusrig.pinmap --check
	$(PY) -m focusrig.jigpins --check
	$(MAKE) --no-print-directory docs-if-possible mpy typecheck
	-$(MAKE) --no-print-directory rp2040-deps
	$(VENV)/bin/pytest -q

clean:
	rm -rf build .pytest_cache

distclean: clean
	rm -rf $(VENV)

# The rp2040 target's Node side (docs/targets.md): rp2040js from npm, exactly as pinned
# in the lockfile; reinstalled when the lockfile is newer than the installed tree.
RP2040_JS := host_tools/focusrig/rp2040/js
.PHONY: rp2040-deps
rp2040-deps: $(RP2040_JS)/node_modules/.package-lock.json

$(RP2040_JS)/node_modules/.package-lock.json: $(RP2040_JS)/package.json $(RP2040_JS)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: apt-get install npm nodejs"; exit 2; }
	npm ci --prefix $(RP2040_JS) --no-audit --no-fund
	@touch $@
