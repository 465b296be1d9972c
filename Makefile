# genzoo's developer commands. Each sets up what it needs: a virtual environment with the pinned
# requirements, kept outside the clone (keyed on the requirements' hash, so it is reused until
# they change), and an editable install of this checkout.
#
#   make demo    train the seed GAN and VAE on MNIST (grids, checkpoints under runs/), then write
#                runs/report.html comparing them; run again, it continues them (--resume auto)
#   make test    run the test suite (in parallel workers; it installs a headless Chromium for the
#                browser tests and Graphviz for the docs when none is found)
#   make docs    build the HTML docs (warnings are errors) into docs/_build/html (it installs
#                Graphviz for the diagrams when none is found)
#   make bench   run the benchmarks (full run; BENCH_QUICK=1 for a smoke run)
#   make pretrained  re-train, evaluate and re-export the shipped pretrained models

SHELL := /bin/bash
PYTHON ?= python3
REQUIREMENTS := .ci/requirements.txt
VENV ?= $(HOME)/.cache/genzoo/venv-$(shell sha256sum $(REQUIREMENTS) | cut -c1-16)
BIN := $(VENV)/bin

# MNIST: the shared folder beside the clone when it is there, else $GENZOO_DATA, else
# ~/.cache/genzoo/data (downloaded on first use).
SHARED_DATA := $(wildcard $(CURDIR)/../shared/data/MNIST/raw)
ifneq ($(SHARED_DATA),)
ifeq ($(GENZOO_DATA),)
export GENZOO_DATA := $(abspath $(CURDIR)/../shared/data)
endif
endif

# The plugin distributions shipped beside the core, each a package of its own (installed
# editable into the same environment, as a user would pip-install them).
PLUGIN_DISTRIBUTIONS := plugins/genzoo-diffusion plugins/genzoo-flow-matching plugins/genzoo-flows \
	plugins/genzoo-few-step

GAN_EPOCHS ?= 20
VAE_EPOCHS ?= 20
# The suite runs in parallel workers (pytest-xdist), each on one torch thread: one more than
# the cores, since many tests wait on subprocesses, the package index or each other (on 2 cores
# about as fast as 2 workers: 678 s against 689 s, in runs not quite alike). Tests that must
# share a worker carry an xdist_group mark.
# PYTEST_WORKERS=0 runs it in this process.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
PYTEST_ARGS ?=

.PHONY: venv browser graphviz demo test docs bench pretrained clean

venv:
	@if [ ! -f "$(VENV)/.genzoo-ready" ]; then \
		echo "creating $(VENV) (once per requirements change; a few minutes)"; \
		rm -rf "$(VENV)" && $(PYTHON) -m venv "$(VENV)" && \
		"$(BIN)/pip" install -q --disable-pip-version-check -r $(REQUIREMENTS) && \
		touch "$(VENV)/.genzoo-ready"; \
	fi
	@"$(BIN)/pip" install -q --disable-pip-version-check --no-build-isolation -e ".[test,docs]" \
		$(foreach plugin,$(PLUGIN_DISTRIBUTIONS),-e $(plugin))

# The report and docs tests look at pages in a real headless Chromium. Use the one on PATH (or
# $$CHROMIUM); else install the system's package (as root, with apt-get), else playwright's own.
browser: venv
	@if [ -n "$$CHROMIUM" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests (apt-get, once)"; \
		export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q chromium; \
	else \
		"$(BIN)/python" -m playwright install chromium || { echo "make test: found no Chromium and \
	could not install one: install it (apt-get install chromium) or set CHROMIUM=/path/to/chrome"; exit 1; }; \
	fi

# The docs draw their diagrams with Graphviz's dot at build time: use the one on PATH, else install
# the system's package (as root, with apt-get).
graphviz:
	@if command -v dot >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing graphviz for the docs' diagrams (apt-get, once)"; \
		export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q graphviz; \
	else \
		echo "the docs need Graphviz's dot for their diagrams: install graphviz (apt-get install \
	graphviz, brew install graphviz)"; exit 1; \
	fi

demo: venv
	"$(BIN)/genzoo" train gan --data mnist --epochs $(GAN_EPOCHS) --batch-size 64 --seed 0 \
		--grid-every 5 --out runs/gan --resume auto
	"$(BIN)/genzoo" train vae --data mnist --epochs $(VAE_EPOCHS) --batch-size 128 --seed 0 \
		--grid-every 5 --out runs/vae --resume auto
	"$(BIN)/genzoo" report runs/gan runs/vae -o runs/report.html --title "genzoo demo: the seed GAN and VAE"
	@echo "grids: runs/gan/grids runs/vae/grids; checkpoints: runs/*/checkpoints/last.pt; report: runs/report.html"

test: venv browser graphviz
	$(if $(filter 0,$(PYTEST_WORKERS)),,OMP_NUM_THREADS=1) "$(BIN)/python" -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

docs: venv graphviz
	"$(BIN)/python" -m sphinx -W --keep-going -b html docs docs/_build/html

bench: venv
	"$(BIN)/python" benchmarks/run.py $(if $(BENCH_QUICK),--quick,)
	"$(BIN)/python" benchmarks/sampling.py $(if $(BENCH_QUICK),--quick,)

# Re-train, evaluate and re-export the pretrained models the distributions ship (about 75
# minutes on 2 cores; PRETRAINED_ARGS="--only mnist-vae" for one).
pretrained: venv
	"$(BIN)/python" benchmarks/pretrained.py $(PRETRAINED_ARGS)

clean:
	rm -rf runs docs/_build .pytest_cache
