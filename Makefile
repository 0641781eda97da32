# LungTumorSeg — two commands for a new user:
#   make demo   set up, then run the built-in example chest CT through the Slicer logic
#   make test   set up, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
export VTK_DEFAULT_OPENGL_WINDOW = vtkEGLRenderWindow

.PHONY: setup demo test benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU build of torch, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.installed
	bash scripts/setup_system.sh

demo: setup
	$(PY) scripts/demo.py --output-dir demo-output

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

benchmark: setup
	$(PY) benchmarks/heldout_phantoms.py
	$(PY) benchmarks/predict_timing.py
	$(PY) benchmarks/relabel_timing.py
	$(PY) benchmarks/train_step_cost.py

clean:
	rm -rf demo-output .pytest_cache
