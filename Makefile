# emqgo: an EMQX-class MQTT broker in Go. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= 0.1.0-$(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/emqgo/emqgo/engine.Version=$(VERSION)
PKGS := ./...
# The modules: the broker, the comparison benchmarks, the mochi peer of the load suite and the
# FerretDB server of emqx_auth_mongo's tests.
MODULES := . bench/compare bench/peers/mochi tools/ferretdb
# ALLOC_GATES selects the zero-allocation gates (testing.AllocsPerRun) for the non-race pass;
# tools/ci checks that it selects exactly them.
ALLOC_GATES := Alloc
# Project-local tools, built or installed by make itself: nothing is assumed on the machine.
TOOLS := $(CURDIR)/$(BIN)/tools
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck
TESTSUM := $(TOOLS)/testsum
FUZZTIME ?= 20s
BENCHTIME ?= 1s
BENCHCOUNT ?= 3
# make soak: how long the churn and faults last, and extra flags of tools/soak.
DURATION ?= 10m
SOAK_FLAGS ?=

.PHONY: help build dashboard-npm run certs test test-deps fmt-check vet tidy-check staticcheck tools test-race test-allocs depcheck compare-build lint fuzz bench bench-micro bench-compare bench-deps bench-load soak cluster-scale clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

build: dashboard-npm ## build bin/emqx and bin/emqx_ctl (with the dashboard's npm files)
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/emqx ./cmd/emqx
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/emqx_ctl ./cmd/emqx_ctl

dashboard-npm: ## fetch the dashboard's pinned npm files (uPlot, MQTT.js) into engine/service/dashboard/web/vendor
	@bash tools/dashboard/fetch.sh

run: build certs ## build and run the broker in the foreground with the embedded default config
	$(BIN)/emqx foreground

certs: ## write the demo TLS certificates under etc/certs/ when missing (git-ignored; FORCE=1 replaces them)
	$(GO) run ./tools/certgen $(if $(FORCE),-force) etc/certs

test-deps: ## install the Debian packages the tests need (mosquitto, mosquitto-clients, redis-server, postgresql, mariadb-server, slapd, ldap-utils, chromium) when missing, and the dashboard's npm files
	@bash tools/ci/deps.sh
	@bash tools/dashboard/fetch.sh

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet the modules
	@set -e; for m in $(MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet ./...); done

tidy-check: ## fail if go mod tidy would change go.mod or go.sum of any of the modules
	@set -e; for m in $(MODULES); do \
	  (cd $$m && $(GO) mod tidy -diff) || { echo "$$m: go.mod/go.sum are not tidy: run go mod tidy in $$m"; exit 1; }; \
	done

tools: ## build tools/testsum and install the pinned staticcheck into bin/tools
	@mkdir -p $(TOOLS)
	@$(GO) build -o $(TESTSUM) ./tools/testsum
	@if ! $(STATICCHECK) -version 2>/dev/null | grep -q '($(STATICCHECK_VERSION:v%=%))'; then \
	  echo "installing staticcheck $(STATICCHECK_VERSION) into $(TOOLS)"; \
	  GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi

staticcheck: tools ## staticcheck the modules
	@set -e; for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && $(STATICCHECK) ./...); done

test-race: tools ## all tests with -race in random order (fuzz seeds included); skips listed with their reason
	@echo "== go test -race -shuffle=on $(PKGS)"
	@set -o pipefail; $(GO) test -json -race -shuffle=on -timeout 20m $(PKGS) | $(TESTSUM) -json $(BIN)/test-race.json

test-allocs: tools ## the zero-allocation gates without -race (the race detector allocates, so -race skips them)
	@echo "== go test -run '$(ALLOC_GATES)' $(PKGS) (allocation gates, no -race)"
	@set -o pipefail; $(GO) test -json -run '$(ALLOC_GATES)' -timeout 5m $(PKGS) | $(TESTSUM) -json $(BIN)/test-allocs.json

depcheck: ## package dependency directions
	$(GO) test -count=1 ./tools/depcheck/

compare-build: ## build the comparison module and its tests without running them
	cd bench/compare && $(GO) test -run '^$$' -count=1 ./...

# Everything CI runs (.ci/run), in this order; the first failure stops it. The race pass goes
# last, so that the run ends with its summary line ("N passed, M failed, K skipped").
test: ## everything CI runs: deps, gofmt, vet, tidy, staticcheck, depcheck, comparison build, allocation gates, race tests
	@$(MAKE) --no-print-directory test-deps
	@$(MAKE) --no-print-directory fmt-check
	@$(MAKE) --no-print-directory vet
	@$(MAKE) --no-print-directory tidy-check
	@$(MAKE) --no-print-directory staticcheck
	@$(MAKE) --no-print-directory depcheck
	@$(MAKE) --no-print-directory compare-build
	@$(MAKE) --no-print-directory test-allocs
	@$(MAKE) --no-print-directory test-race

lint: ## gofmt, vet, staticcheck, dependency directions
	@$(MAKE) --no-print-directory fmt-check
	@$(MAKE) --no-print-directory vet
	@$(MAKE) --no-print-directory staticcheck
	@$(MAKE) --no-print-directory depcheck

fuzz: ## run every fuzz target for FUZZTIME each (default 20s)
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench: bench-micro bench-compare bench-load ## the benchmark suite (micro-benchmarks, peer comparisons, load suite)

bench-micro: ## codec and trie micro-benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./codec/ ./trie/

bench-compare: ## the same work through paho.golang and mochi, side by side
	cd bench/compare && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./...

bench-deps: ## install Mosquitto (Debian) for the load suite when missing; it is never left running as a service
	@bash tools/ci/deps.sh

bench-load: build bench-deps ## load suite: our broker vs Mosquitto and mochi (or PEER=host:port), report in bench/results/
	$(GO) build -trimpath -o $(BIN)/emqx_bench ./bench/emqx_bench
	cd bench/peers/mochi && $(GO) build -trimpath -o $(CURDIR)/$(BIN)/mochi_peer .
	$(BIN)/emqx_bench suite -out bench/results $(if $(PEER),-peer $(PEER)) $(BENCH_LOAD_FLAGS)

cluster-scale: ## the cluster's scale check: 5 real nodes on loopback, SCALE_CLIENTS x SCALE_FILTERS filters per node (default 10 x 10000); route-table heap and announcement bytes per node (engine/service/cluster/SCALE.md)
	EMQX_SCALE_SIM=1 EMQX_SCALE_CLIENTS=$(or $(SCALE_CLIENTS),10) EMQX_SCALE_FILTERS=$(or $(SCALE_FILTERS),10000) $(GO) test -count=1 -timeout 20m -run TestScaleSimulation -v ./engine/service/cluster/ 2>&1 | grep -v 'level='
	$(GO) test -run '^$$' -bench BytesPerFilter -benchtime 1x ./trie/

soak: build ## churn and kill -9 the broker for DURATION (default 10m) on loopback; report lost/duplicated messages, RSS, heap, goroutines, CPU, loop lag (tools/soak; SOAK_FLAGS=-profile=overload: the load that saturates 2 cores, lag not checked)
	$(GO) build -trimpath -o $(BIN)/soak ./tools/soak
	$(BIN)/soak -bin $(BIN)/emqx -duration $(DURATION) -out bench/results $(SOAK_FLAGS)

clean: ## remove build output
	rm -rf $(BIN)
