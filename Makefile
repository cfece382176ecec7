# `make demo` and `make test` create or update the project venv (.venv) on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu121".
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.installed
DEMO_DIR ?= output/demo

.PHONY: venv test demo clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt tools/install_detectron2.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt pip setuptools wheel
	$(PY) -m pip install -c constraints.txt $(TORCH_PIP_ARGS) torch torchvision
	$(PY) tools/install_detectron2.py -c constraints.txt
	$(PY) -m pip install -c constraints.txt --no-build-isolation -e '.[dev]'
	$(PY) -c "import gn_det, detectron2.modeling"
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(PY) tools/demo.py --output-dir $(DEMO_DIR)

clean:
	rm -rf $(VENV) build
