# LungTumorSeg — two commands for a new user:
#   make demo   set up, then run the built-in example chest CT through the Slicer logic
#   make test   set up, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
TORCH_INDEX ?=
PY      = $(VENV)/bin/python
export VTK_DEFAULT_OPENGL_WINDOW = vtkEGLRenderWindow

.PHONY: setup demo test benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned; TORCH_INDEX=https://download.pytorch.org/whl/cpu takes its CPU build where the
	# default index would give the multi-GB CUDA one (README, Two commands).
	$(PY) -m pip install -q "torch==2.13.0" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
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
	$(PY) benchmarks/lung_region_timing.py
	$(PY) benchmarks/train_step_cost.py

clean:
	rm -rf demo-output .pytest_cache
