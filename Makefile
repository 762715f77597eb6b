# orchestrator.k3s: one entry point for building and testing.
#
#   make test        everything CI runs (bootstraps its own tools first)
#   make lint        static gates only (fast)
#   make unit        unit tests only
#
# Everything built or downloaded lands in $(ORCHESTRATOR_CACHE) (outside the
# checkout, so a fresh clone reuses it) or in .venv/ (git-ignored).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export ORCHESTRATOR_CACHE ?= $(HOME)/.cache/orchestrator-k3s
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
PYTEST := $(BIN)/pytest

.PHONY: help test bootstrap lint unit sanity toolchain airgap images integration apps \
        images-test molecule e2e bench clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

test: bootstrap lint unit sanity toolchain integration images apps images-test molecule e2e ## Everything CI runs.
	@echo "make test: all suites passed"

bootstrap: ## Install Debian packages, start Docker, build .venv (no-op when done).
	scripts/bootstrap.sh

lint: bootstrap ## ruff, ansible-lint, shellcheck, hadolint, detect-secrets, node tests' lint.
	scripts/lint.sh

unit: bootstrap ## Unit tests (no servers, no cluster).
	$(PYTEST) -q tests/unit

sanity: bootstrap ## ansible-test sanity on a copy of the collection, no ignore file.
	scripts/sanity.sh

toolchain: bootstrap ## Build Kubernetes and the cluster add-ons from Go modules (cached); test our Go code.
	toolchain/build.sh
	toolchain/test.sh

airgap: toolchain ## The kubeadm engine's air-gap folder: binaries, images, checksums (cached).
	toolchain/build-airgap.sh

integration: toolchain ## Stack module against a real kube-apiserver 1.34.
	$(PYTEST) -q tests/integration

images: bootstrap ## Build every image locally (cached by input hash).
	scripts/build-images.sh

apps: bootstrap ## App tests against real Redis, Postgres, RabbitMQ, Chromium.
	scripts/test-apps.sh

images-test: images airgap ## Data images' env contracts, node image boot, docker-compose, air-gap images.
	$(PYTEST) -q tests/images

molecule: images airgap ## Molecule scenarios that can run on this machine (kubeadm on real pods).
	scripts/molecule.sh

e2e: images airgap ## Platform end to end on the Docker provider (create: kubeadm, both stacks on real pods).
	$(PYTEST) -q tests/e2e

bench: toolchain images ## Benchmarks (print ratios against references measured in the same run).
	bench/apply
	bench/votes

clean: ## Remove per-checkout state (not the shared cache).
	rm -rf .orchestrator tests/artifacts .pytest_cache .ruff_cache
