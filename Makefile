# BlenderCNN add-on. `make demo` runs the main job headless; `make test` runs the tests; `make check`
# runs their fast tier (tests/fast: layering, contracts, pure-Python units) in seconds.
# Both create .venv (Python 3.13 + pinned bpy 5.2, tensorflow, numpy, pillow) on first use.
# `make test-compat` runs a compact subset on the older Blenders the extension supports
# (bpy 4.2 LTS, 4.5 LTS, 5.0 on Python 3.11) and the newest (bpy 5.3), each in its own .venv-bpy-*.

# The interpreters are looked for explicitly (tools/find_python.sh): a pyenv shim on PATH fails
# unless pyenv has that version selected. Override with PYTHON=/path/to/python3.13 PYTHON311=...
PYTHON    ?= $(shell tools/find_python.sh 3.13 2>/dev/null)
PYTHON311 ?= $(shell tools/find_python.sh 3.11 2>/dev/null)
VENV   := .venv
PY     := $(VENV)/bin/python
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
ZIP    := dist/blendercnn_addon-$(VERSION).zip
SOURCES := $(shell find blendercnn_addon -name '*.py') blender_manifest.toml
DEMO_OUT ?= demo_output
# Blender versions of `make test-compat`: bpy wheel version and the Python it is built for.
COMPAT := 4.2.23:3.11 4.5.15:3.11 5.0.1:3.11 5.3.0:3.13
COMPAT_VENVS := $(foreach c,$(COMPAT),.venv-bpy-$(firstword $(subst :, ,$(c))))
# Downloads survive a network that drops connections: pip retries and resumes each file
# (exported to every recipe, make gui-test's wheel downloads included), and an environment whose
# install still fails is made again from nothing (tools/retry.sh around tools/make_venv.sh).
export PIP_RETRIES ?= 10
export PIP_RESUME_RETRIES ?= 50
MAKE_VENV = tools/retry.sh 3 tools/make_venv.sh

.PHONY: venv build repo demo check test test-faults test-compat bench bench-job bench-curve bench-tiles gui-test clean
.DELETE_ON_ERROR:

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON)" || { echo "error: bpy 5.2 needs Python 3.13 and none was found (tried python3.13 on PATH, pyenv's 3.13.*, /usr/local/bin, /usr/bin); install it or set PYTHON=/path/to/python3.13" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else "error: bpy 5.2 needs Python 3.13; PYTHON=$(PYTHON) is " + sys.version.split()[0])'
	$(MAKE_VENV) $(PYTHON) $(VENV) "bpy tensorflow PIL" -r requirements.txt
	touch $@

build: $(ZIP)

$(ZIP): $(VENV)/.installed $(SOURCES) tools/build_extension.py
	$(PY) tools/build_extension.py --out-dir dist

# A static extensions repository in repo/ (the zip + index.json, index.html by Blender's own tool): add
# file://$(CURDIR)/repo/index.json in Preferences > Get Extensions > Repositories, or serve the folder.
repo: $(ZIP)
	$(PY) tools/build_repository.py --zip $(ZIP) --out repo

demo: $(ZIP)
	rm -rf $(DEMO_OUT)
	$(PY) tools/headless_demo.py $(ZIP) $(DEMO_OUT) --count 200 --resolution 64 --samples 16
	$(PY) -m blendercnn_addon train --data $(DEMO_OUT)/dataset --out $(DEMO_OUT)/run --epochs 15 --batch-size 16
	$(PY) -m blendercnn_addon evaluate --data $(DEMO_OUT)/dataset --model $(DEMO_OUT)/run
	@echo "demo done: $(DEMO_OUT)/contact_sheet.png (dataset), $(DEMO_OUT)/run/comparison.png (real | generated | difference)"

# No Blender, no TensorFlow, no renders: under a minute (tests/fast/test_layers.py and the records, vector, units).
check: $(VENV)/.installed
	$(PY) -m pytest -q tests/fast

test: $(VENV)/.installed
	$(PY) -m pytest -m "not faults" tests

# Faults a user's day brings (a full tmpfs, Ctrl-C and SIGTERM, two runs into one folder, Ray's
# exposure): slower, so apart from make test; CI runs both. The tmpfs cases need root.
test-faults: $(VENV)/.installed
	$(PY) -m pytest -m faults tests

# One environment per Blender version: bpy==V plus what the tests import in Blender's process.
# TensorFlow is not installed there: training and preview run in .venv's Python, as the panel
# runs them in a separate TensorFlow Python.
.venv-bpy-%/.installed: requirements-compat.txt
	@python=$(if $(filter 3.13,$(word 2,$(subst :, ,$(filter $*:%,$(COMPAT))))),$(PYTHON),$(PYTHON311)); \
	  test -n "$$python" || { echo "error: bpy $* needs Python $(word 2,$(subst :, ,$(filter $*:%,$(COMPAT)))) and none was found; set PYTHON311= or PYTHON=" >&2; exit 1; }; \
	  $(MAKE_VENV) $$python .venv-bpy-$* "bpy PIL" bpy==$* -r requirements-compat.txt
	touch $@

test-compat: $(VENV)/.installed $(COMPAT_VENVS:%=%/.installed)
	$(PY) tools/test_compat.py $(COMPAT_VENVS)

# The user's journey clicked through in a real Blender 4.3 window (needs root: a cached Debian 13
# root folder with Blender, Xvfb and xdotool; see tools/gui/). Evidence in gui_output/.
gui-test: $(ZIP)
	HOST_PYTHON=$(PY) tools/gui/run_journey.sh $(ZIP) gui_output
	$(PY) tools/gui/check.py gui_output

bench: $(VENV)/.installed
	$(PY) benchmarks/render_speed.py
	$(PY) benchmarks/render_throughput.py
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/fused_layers.py
	$(PY) benchmarks/epoch_cost.py
	$(PY) benchmarks/preview_latency.py
	$(PY) benchmarks/engine.py --frames 100 --references 5

# The user's whole job at 256² (Generate, then Train) against a 30-minute budget, and the seed
# pipeline's estimate: about 40 minutes. BENCH_JOB_ARGS=--quick for a few-minute smoke run.
bench-job: $(VENV)/.installed
	$(PY) benchmarks/time_to_quality.py $(BENCH_JOB_ARGS)

# Renders needed: model quality against clean references by renders trained on (64²), and the
# count it recommends (recommendation.py): about 40 minutes. BENCH_CURVE_ARGS to change counts, or
# for the 256² curve (about 70 minutes): BENCH_CURVE_ARGS="--resolution 256 --counts 250,500,1000,2000 --epochs 40"
bench-curve: $(VENV)/.installed
	$(PY) benchmarks/learning_curve.py $(BENCH_CURVE_ARGS)

# Whole images against tiles at 256² (1,000 Default renders, 40 clean references, 10 minutes of
# training per variant): about 50 minutes. BENCH_TILES_ARGS to change the budget or the variants.
BENCH_TILES_ARGS ?= --work $(CURDIR)/build/bench-tiles
bench-tiles: $(VENV)/.installed
	$(PY) benchmarks/train_throughput.py $(BENCH_TILES_ARGS)

clean:
	rm -rf build dist repo $(DEMO_OUT) gui_output .pytest_cache
