# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check -c constraints.txt
INDEX  ?= embeddings
SAMPLE := data/articles

.PHONY: run test llm lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e ".[test]"
	touch $@ $(VENV)/.installed-run

# the language model server for the generative mode's tests (compiles llama.cpp, ~10 minutes once)
$(VENV)/.installed-llm: pyproject.toml constraints.txt | $(VENV)/bin/python
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) -e ".[test,llm]"
	touch $@

llm: $(VENV)/.installed-llm

run: $(VENV)/.installed-run
	$(PY) app.py --index $(INDEX)

test: $(VENV)/.installed-test
	$(PY) -m ruff check rag ui tests bench app.py
	$(PY) -m pytest

bench: $(VENV)/.installed-test
	$(PY) bench/retrieval.py
	$(PY) bench/ingest_throughput.py
	$(PY) bench/search_latency.py
	$(PY) bench/ask_latency.py
	$(PY) bench/load_test.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
