# `make demo` and `make test` create or update the project venv (.venv) on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu121".
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.installed
DEMO_DIR ?= output/demo

# `make test-upstream` runs the same tests against upstream detectron2, built from source with its C++
# extension into a second venv. DETECTRON2_SRC: a detectron2 source checkout or a git-archive tarball of
# one; by default the newest snapshot in ../shared/third_party/.
DETECTRON2_SRC ?= $(lastword $(sort $(wildcard ../shared/third_party/detectron2-main-*.tar.gz)))
UPSTREAM_VENV := .venv-upstream
UPSTREAM_PY := $(UPSTREAM_VENV)/bin/python
UPSTREAM_STAMP := $(UPSTREAM_VENV)/.installed
# Parallel C++ compile jobs for detectron2._C.
MAX_JOBS ?= 2
# The upstream venv is rebuilt when its source changes: the tarball, or any file of the source tree.
DETECTRON2_SRC_FILES := $(if $(wildcard $(DETECTRON2_SRC)/setup.py),$(shell find $(DETECTRON2_SRC) \
	\( -name .git -o -name build \) -prune -o -type f ! -name '*.so' -print),$(DETECTRON2_SRC))

.PHONY: venv test test-slow demo clean venv-upstream test-upstream FORCE

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
	$(PY) -m pytest -q -m "not slow" tests

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow tests

venv-upstream: $(UPSTREAM_STAMP)

ifeq ($(strip $(wildcard $(DETECTRON2_SRC))),)
$(UPSTREAM_STAMP): FORCE
	@echo "gn_det: error: no upstream detectron2 source$(if $(DETECTRON2_SRC), ($(DETECTRON2_SRC) does not exist)). \
	Run 'git clone https://github.com/facebookresearch/detectron2 ../detectron2' and then \
	'make test-upstream DETECTRON2_SRC=../detectron2' (a git-archive tarball works too)." >&2; exit 2
else
# Holds the path of the source last installed, so that pointing DETECTRON2_SRC elsewhere rebuilds.
$(UPSTREAM_VENV)/.source: FORCE
	@mkdir -p $(UPSTREAM_VENV)
	@echo '$(abspath $(DETECTRON2_SRC))' | cmp -s - $@ || echo '$(abspath $(DETECTRON2_SRC))' > $@

$(UPSTREAM_STAMP): pyproject.toml constraints.txt tools/install_detectron2_upstream.py \
		$(DETECTRON2_SRC_FILES) $(UPSTREAM_VENV)/.source
	test -x $(UPSTREAM_PY) || $(PYTHON) -m venv $(UPSTREAM_VENV)
	$(UPSTREAM_PY) -m pip install -q -c constraints.txt pip setuptools wheel
	$(UPSTREAM_PY) -m pip install -c constraints.txt $(TORCH_PIP_ARGS) torch torchvision
	MAX_JOBS=$(MAX_JOBS) $(UPSTREAM_PY) tools/install_detectron2_upstream.py -c constraints.txt $(DETECTRON2_SRC)
	$(UPSTREAM_PY) -m pip install -c constraints.txt --no-build-isolation -e '.[dev]'
	$(UPSTREAM_PY) -c "import gn_det, detectron2._C"
	touch $@
endif

test-upstream: $(UPSTREAM_STAMP)
	$(UPSTREAM_PY) -m pytest -q -m "not slow" tests

demo: $(STAMP)
	$(PY) tools/demo.py --output-dir $(DEMO_DIR)

clean:
	rm -rf $(VENV) $(UPSTREAM_VENV) build
