# BlenderCNN add-on. `make demo` runs the main job headless; `make test` runs the tests.
# Both create .venv (Python 3.11 + pinned bpy, tensorflow, numpy, pillow) on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
ZIP    := dist/blendercnn_addon-$(VERSION).zip
SOURCES := $(shell find blendercnn_addon -name '*.py') blender_manifest.toml
DEMO_OUT ?= demo_output

.PHONY: venv build demo test bench gui-test clean
.DELETE_ON_ERROR:

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "error: bpy 5.0 needs Python 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

build: $(ZIP)

$(ZIP): $(VENV)/.installed $(SOURCES) tools/build_extension.py
	$(PY) tools/build_extension.py --out-dir dist

demo: $(ZIP)
	rm -rf $(DEMO_OUT)
	$(PY) tools/headless_demo.py $(ZIP) $(DEMO_OUT) --count 200 --resolution 64 --samples 16
	$(PY) -m blendercnn_addon train --data $(DEMO_OUT)/dataset --out $(DEMO_OUT)/run --epochs 15 --batch-size 16
	$(PY) -m blendercnn_addon evaluate --data $(DEMO_OUT)/dataset --model $(DEMO_OUT)/run
	@echo "demo done: $(DEMO_OUT)/contact_sheet.png (dataset), $(DEMO_OUT)/run/comparison.png (real | generated | difference)"

test: $(VENV)/.installed
	$(PY) -m pytest tests

# The user's journey clicked through in a real Blender 4.3 window (needs root: a cached Debian 13
# root folder with Blender, Xvfb and xdotool; see tools/gui/). Evidence in gui_output/.
gui-test: $(ZIP)
	HOST_PYTHON=$(PY) tools/gui/run_journey.sh $(ZIP) gui_output
	$(PY) tools/gui/check.py gui_output

bench: $(VENV)/.installed
	$(PY) benchmarks/render_speed.py
	$(PY) benchmarks/render_throughput.py
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/preview_latency.py

clean:
	rm -rf build dist $(DEMO_OUT) gui_output .pytest_cache
