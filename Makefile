# labflow — the two commands: `make dev` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_FILES ?= 12

.PHONY: install dev test bench clean-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Set up and start the whole system on the embedded default with demo data.
dev: install
	$(BIN)/labflow dev --demo $(DEMO_FILES)

## Set up and run the test suite.
test: install
	$(BIN)/python -m pytest

## Run the benchmarks (needs ../shared/ for the real-data ones).
bench: install
	$(BIN)/python benchmarks/etl.py --json .bench/etl.json
	$(BIN)/python benchmarks/peaks_quality.py --json .bench/peaks_quality.json
	$(BIN)/python benchmarks/spectra_peaks.py --json .bench/spectra_peaks.json
	$(BIN)/python benchmarks/quality_real.py --json .bench/quality_real.json
	$(BIN)/python benchmarks/ingest.py --json .bench/ingest.json
	$(BIN)/python benchmarks/api.py --json .bench/api.json
	$(BIN)/python benchmarks/ui_open.py --json .bench/ui_open.json
	$(BIN)/python benchmarks/s3_ingest.py --json .bench/s3_ingest.json
	$(BIN)/python benchmarks/streams.py --json .bench/streams.json
	$(BIN)/python benchmarks/forecast.py --json .bench/forecast.json
	$(BIN)/python benchmarks/loop.py --json .bench/loop.json
	$(BIN)/python benchmarks/metrics.py --json .bench/metrics.json
	$(BIN)/python benchmarks/scale.py --json .bench/scale.json

## Delete the local data directory (inbox, objects, outputs, Dagster storage).
clean-data:
	rm -rf .labflow
