# gandensity: build the book and test everything. Each target sets up .venv on first use.
#   make book [JOBS=2]                          execute every chapter (PROFILE=cpu) and build _build/html
#   make test                                   unit tests, nbval of the published chapters, strict book build, browser test
#   make chapter NB=a1_exact_density PROFILE=smoke [PARAMS="-p epochs 3"]   rerun one chapter into book/
#   make page PAGE=b2_paper_steps               execute a page at the papers' scale into book/scale/ (up to an hour)
#   make html                                   build the HTML from the notebooks already in book/
#   make bench                                  run the benchmarks
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= cpu
NOTEBOOKS := $(sort $(wildcard notebooks/*.py))
# Executed notebooks print summaries, not progress bars; nothing else differs.
export GANDENSITY_PROGRESS ?= 0
export PYTHONHASHSEED := 0
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: venv book chapter page html html-strict test unit nbval browser bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

venv: $(VENV)/.installed

# JOBS=2 executes two chapters at a time (each runs torch on one thread at smoke/cpu). Chapters that share a
# cached model wait for whichever started it (a lock per cache entry) instead of training it twice; the order
# puts A1, which trains the shared MNIST DCGAN, beside chapters that do not use it.
JOBS ?= 1
FIRST := a1_exact_density d2_mixtures d3_images b2_implicit_densities d1_tracked_layers
ORDER := $(FIRST) $(filter-out $(FIRST),$(basename $(notdir $(NOTEBOOKS))))
book: venv
	printf '%s\n' $(ORDER) | xargs -P $(JOBS) -I{} python -m gandensity.book.runner {} --profile $(PROFILE)
	python -m gandensity.book.scorecard
	$(MAKE) --no-print-directory html

# Execute into a temporary file and move it into place only on success: a failed run never
# replaces the published chapter (its partial output stays in book/.<name>.tmp.ipynb to inspect).
# PARAMS are notebook parameters, checked against the chapter's parameters cell before it runs:
#   make chapter NB=a1_exact_density PROFILE=smoke PARAMS="-p epochs 3 -r data_root /data"
# A successful run also regenerates the scorecard (book/scorecard.md, book/scorecard.json).
PARAMS ?=
chapter: venv
	@test -n "$(NB)" || { echo "usage: make chapter NB=<name in notebooks/> [PROFILE=smoke|cpu|paper] [PARAMS=\"-p KEY VALUE ...\"]"; exit 2; }
	python -m gandensity.book.runner $(NB) --profile $(PROFILE) $(PARAMS)
	python -m gandensity.book.scorecard

# A page at the papers' scale (gandensity.book.pages): the chapter with the registered profile and parameters,
# into book/scale/PAGE.ipynb (up to an hour; make test does not re-execute it). PAGE=all runs every page.
PAGE ?=
page: venv
	@test -n "$(PAGE)" || { echo "usage: make page PAGE=<name>|all  (pages: $$(python -c 'from gandensity.book.pages import PAGES; print(" ".join(p.name for p in PAGES))'))"; exit 2; }
	if [ "$(PAGE)" = all ]; then for p in $$(python -c 'from gandensity.book.pages import PAGES; print(" ".join(p.name for p in PAGES))'); do python -m gandensity.book.runner --page $$p; done; else python -m gandensity.book.runner --page $(PAGE); fi
	python -m gandensity.book.scorecard

html: venv
	jupyter-book build . --builder html
	@echo "HTML: $(abspath _build/html/index.html)"

html-strict: venv
	jupyter-book build . --builder html -W -n --keep-going

unit: venv
	python -m pytest tests -m "not browser" -q -n 2 --dist loadfile

# Two chapters at a time (pytest-xdist; each chapter's cells stay in order on one worker): each runs torch on
# one thread, and chapters sharing a model wait for its one build through the cache's lock.
nbval: venv
	python -m pytest --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider book/*.ipynb -q \
		-n 2 --dist loadfile

browser: venv
	python -m pytest tests -m browser -q

test: unit nbval html-strict browser

bench: venv
	for b in benchmarks/*.py; do python $$b; done

clean:
	rm -rf _build book/.*.tmp.ipynb
