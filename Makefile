# Two commands do all set-up: `make run` (main job) and `make test` (the whole test suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The tests of local inference (hf:) need torch. The default takes the CPU build that lies on this project's
# machines; elsewhere set TORCH_SPEC to the build you want, or to nothing to skip those tests.
TORCH_SPEC ?= torch==2.13.0
comma := ,
# The Ray executor's tests need the ray extra; `make run` and `pip install -e .` do not.
TEST_INSTALL := $(if $(TORCH_SPEC),'$(TORCH_SPEC)' -e '.[test$(comma)hf$(comma)ray]',-e '.[test$(comma)ray]')

.PHONY: run test docker browser bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## run: set up (Docker engine included where it may be started), then evaluate the built-in smoke suite on the
## embedded models and print the results; a benchmark that cannot run here says why in one line
run: $(BIN)/.installed docker
	$(BIN)/harness smoke
	$(BIN)/harness site --out .harness/site

$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet $(TEST_INSTALL)
	touch $@

## test: set up (Docker engine and a headless browser included where they may be installed), then run the whole
## test suite
test: $(BIN)/.installed-test docker browser
	$(BIN)/python -m pytest -q -ra

## docker: make sure a Docker engine answers (installs and starts one where allowed)
docker:
	@bash sandboxes/ensure-docker.sh || echo "make: no Docker engine; container tests will be skipped (see above)"

## browser: make sure the site's browser tests can run (Debian's chromium, Playwright for Python driving it)
browser: $(BIN)/.installed-test
	@HARNESS_PYTHON=$(BIN)/python bash leaderboard/ensure-browser.sh || echo "make: no headless browser; the site's browser tests will be skipped (see above)"

bench: $(BIN)/.installed
	$(BIN)/python bench/engine_overhead.py

clean:
	rm -rf $(VENV) .harness .pytest_cache
