# Two commands on a fresh machine with only Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := runs/demo
SAMPLE := datasets/sample
DEMO_CONTEXT := osu_0004_abraker_-_Mutsuhiko_Izumi_-_Red_Goose_ERT_Basic_2019-08-24_Osu
DEMO_MAP := Mutsuhiko_Izumi_-_Red_Goose_nold_1702_ERT_Basic_.osu

.PHONY: demo test install clean bench

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,jax,torch,beam]'
	touch $(STAMP)

# Import contract and lint first, then the suite; -rs lists every skip (the summary line
# counts them: 0 on a clone with ../shared beside it). TEST_WORKERS pytest-xdist processes
# (2: the CI machine's cores; most of a test's time is single-threaded graph tracing, so two
# processes nearly halve the wall time); TEST_WORKERS=0 runs in one process. --dist loadfile:
# each file runs in one process, so a module's fixture (the three backends' fit, the export
# run) is built once, not once per worker; the files go out heaviest first (conftest.py,
# tests/durations.json: `make test PYTEST_ARGS=--store-durations` refreshes the table).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q -p no:cacheprovider -rs -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15 $(PYTEST_ARGS)

demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/actiongen -q import --source osu $(SAMPLE)/osu $(DEMO)/sessions/osu
	$(BIN)/actiongen -q import --source sapimouse $(SAMPLE)/sapimouse $(DEMO)/sessions/sapimouse
	$(BIN)/actiongen validate $(DEMO)/sessions
	$(BIN)/actiongen -q stats $(DEMO)/sessions --out $(DEMO)/stats
	$(BIN)/actiongen -q dataset build $(DEMO)/sessions --out $(DEMO)/data
	$(BIN)/actiongen -q train --data $(DEMO)/data --out $(DEMO)/run --epochs 3
	$(BIN)/actiongen -q generate --model $(DEMO)/run/model.keras --context $(DEMO)/sessions/osu/$(DEMO_CONTEXT) --seconds 10 --out $(DEMO)/generated --osr $(DEMO)/generated.osr --beatmap $(SAMPLE)/osu/beatmaps_osu/$(DEMO_MAP)
	$(BIN)/actiongen -q evaluate --model $(DEMO)/run/model.keras --sessions $(DEMO)/sessions --out $(DEMO)/report --seconds 10 --max-sessions 4 --beatmaps $(SAMPLE)/osu/beatmaps_osu
	$(BIN)/actiongen -q export --model $(DEMO)/run/model.keras --out $(DEMO)/saved_models/actiongen/1 --tflite $(DEMO)/actiongen.tflite
	$(BIN)/actiongen -q export --model $(DEMO)/run/model.keras --out $(DEMO)/saved_models/actiongen/2 --tflite $(DEMO)/actiongen_int8.tflite --quantize dynamic
	@echo "demo outputs are under $(DEMO)/"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_data.py

clean:
	rm -rf $(VENV) runs build *.egg-info
