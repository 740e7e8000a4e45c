# The two commands of the README: `make run` (the main job) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-cluster stack-up stack-down lock clean models

setup: $(STAMP)

# Every dependency is pinned with its hash in requirements.lock (regenerate with `make lock`); the
# NER pipelines the project trains itself (models/) are installed from the wheels in the repo.
MODEL_WHEELS := $(wildcard models/dist/*.whl)
$(STAMP): requirements.lock pyproject.toml $(MODEL_WHEELS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(if $(MODEL_WHEELS),$(BIN)/pip install --quiet --no-deps --no-index $(MODEL_WHEELS))
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Retrains one of the project's NER pipelines: make models LANG=de DATA=/path/to/gold [VECTORS=DIR]
# (German trains with static vectors: models/README.md says how they are built).
models: setup
	OMP_NUM_THREADS=1 $(BIN)/newsstream measure train-ner $(LANG) --data $(DATA) $(if $(VECTORS),--vectors $(VECTORS))

lock:
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 --generate-hashes -o requirements.lock

stack-up: setup
	$(BIN)/newsstream stack up

stack-down: setup
	$(BIN)/newsstream stack down

run: setup
	$(BIN)/newsstream demo

# The browser test drives Debian's Chromium: no browser is downloaded by a test tool.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# kcat (librdkafka) is the independent Kafka client of the codec interoperability tests.
KCAT := /usr/bin/kcat
$(KCAT):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat

# kubeconform checks the Kubernetes manifests against the schemas in deploy/k8s/schemas/; built from the Go
# module proxy (`go install`), pinned.
KUBECONFORM := .tools/bin/kubeconform
$(KUBECONFORM):
	GOBIN=$(CURDIR)/.tools/bin go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0

# Starts the stack the integration tests need and always stops it afterwards; then the local
# replicated cluster's tests (pytest -m cluster, about 8 minutes), which start and stop the
# cluster profile themselves. CI runs this, so the fault tests run there too.
test: setup $(CHROMIUM) $(KCAT) $(KUBECONFORM)
	$(BIN)/newsstream stack up
	status=0; $(BIN)/python -m pytest -ra $(PYTEST_ARGS) || status=$$?; \
	  $(BIN)/newsstream stack down; \
	  $(BIN)/python -m pytest -ra -m cluster $(PYTEST_ARGS) || status=$$?; exit $$status

# Only the cluster's tests.
test-cluster: setup
	$(BIN)/python -m pytest -ra -m cluster $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .stack .tools
