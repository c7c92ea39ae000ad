# Two commands for a new user: `make run` and `make test`.
# Both create .venv from requirements.lock (exact versions) on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

# Prefect phones home otherwise, which only produces errors offline.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: run test lint lock bench clean browser train-ner train-ner-en train-ner-it

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/corpus run $(ARGS)

# `make lint` first (a broken rule fails the run before pytest starts), then the suite.
test: $(STAMP) browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The rules a machine checks: the import contracts of pyproject.toml's [tool.importlinter]
# (layers cli -> flows -> tasks -> warehouse, no cycles, duckdb only in warehouse, prefect only in
# flows and the task wrappers), then pylint's duplicate-code check alone (R0801: six similar lines
# or more across tasks flows warehouse cli; options in [tool.pylint.similarities]).
lint: $(STAMP)
	status=0; \
	$(BIN)/lint-imports --no-cache --no-logo || status=1; \
	$(BIN)/pylint --disable=all --enable=duplicate-code --score=n tasks flows warehouse cli \
	  || status=1; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python bench/ingest_bbc.py

# Rebuild the bundled NER models in tasks/models/ from ../shared/data (the team's data, not in
# the repository): convert, train (about 25 min per language on one core), export, then score the
# whole entity stage on the news dev sets. Data, licences and scores: tasks/models/MODEL_CARD.md.
train-ner: train-ner-en train-ner-it

train-ner-en train-ner-it: train-ner-%: $(STAMP)
	$(BIN)/pip install --quiet spacy-lookups-data==1.0.5
	$(BIN)/python training/train_ner.py all --lang $*

# Debian's chromium + chromedriver for tests/test_browser.py, which skips (saying why) without them.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium chromium-driver for the browser test"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	  || echo "could not install chromium chromium-driver: the browser test will skip"; \
	else echo "no chromium/chromedriver and no root apt-get: the browser test will skip"; fi

# Re-resolve the dependencies from pyproject.toml and pin them (needs the registry).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet setuptools wheel -e .
	.lockenv/bin/pip freeze --exclude-editable --all | grep -v '^pip==' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) data
