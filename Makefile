# The two commands of the quick start (README.md):
#   make demo   run the order-saga example (three services, real sidecars) and show each order's outcome
#   make test   every test, after installing what they need
# Both install their prerequisites first (`make dapr`), so they work on a fresh machine.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help dapr tools demo test lint bench

help:
	@echo "make dapr   install the pinned Dapr runtime (built from Go modules) and redis-server"
	@echo "make demo   build the order-saga example's three services, run them with real sidecars, print each order's outcome"
	@echo "make tools  install the cargo-generate CLI that tests compare daprgen new against"
	@echo "make test   install what tests need, then lint and run every test"
	@echo "make bench  measure generator, build, runtime and saga figures against their floors (docs/BENCHMARKS.md)"

dapr:
	@bash tools/dapr/install.sh

tools:
	@bash tools/cargo-generate/install.sh

demo: dapr
	$(CARGO) run --quiet --locked -p order-saga --bin demo

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

test: dapr tools lint
	$(CARGO) test --workspace --locked

bench: dapr
	@CARGO=$(CARGO) bash bench/run.sh
