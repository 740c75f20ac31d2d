# Two commands on a fresh machine with only Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := runs/demo
SAMPLE := datasets/sample
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test install clean bench

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,jax,torch]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/actiongen -q import --source osu $(SAMPLE)/osu $(DEMO)/sessions/osu
	$(BIN)/actiongen -q import --source sapimouse $(SAMPLE)/sapimouse $(DEMO)/sessions/sapimouse
	$(BIN)/actiongen validate $(DEMO)/sessions
	$(BIN)/actiongen -q stats $(DEMO)/sessions --out $(DEMO)/stats
	$(BIN)/actiongen -q dataset build $(DEMO)/sessions --out $(DEMO)/data
	$(BIN)/actiongen -q train --data $(DEMO)/data --out $(DEMO)/run --epochs 3
	@echo "demo outputs are under $(DEMO)/"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_data.py

clean:
	rm -rf $(VENV) runs build *.egg-info
