# emqgo: an EMQX-class MQTT broker in Go. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= 0.1.0-$(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/emqgo/emqgo/engine.Version=$(VERSION)
PKGS := ./...
FUZZTIME ?= 20s
BENCHTIME ?= 1s
BENCHCOUNT ?= 3

.PHONY: help build run test test-deps fmt-check vet lint fuzz bench bench-micro bench-compare bench-deps bench-load clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

build: ## build bin/emqx and bin/emqx_ctl
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/emqx ./cmd/emqx
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/emqx_ctl ./cmd/emqx_ctl

run: build ## build and run the broker in the foreground with the embedded default config
	$(BIN)/emqx foreground

test-deps: ## install what the tests need (Debian packages), once per machine
	@bash tools/ci/deps.sh

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet the broker and the comparison module
	$(GO) vet $(PKGS)
	cd bench/compare && $(GO) vet ./...

test: test-deps fmt-check vet ## everything CI runs: gofmt, vet, race tests (fuzz seeds included), comparison module build
	$(GO) test -race -shuffle=on -timeout 20m $(PKGS)
	cd bench/compare && $(GO) test -run '^$$' -count=1 ./...

lint: fmt-check vet ## gofmt, vet, staticcheck when installed, dependency directions
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); else echo "staticcheck not installed: skipped (go install honnef.co/go/tools/cmd/staticcheck@latest)"; fi
	$(GO) test -count=1 ./tools/depcheck/

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
	@if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then \
	  apt-get install -y mosquitto || { apt-get update && apt-get install -y mosquitto; }; \
	  (systemctl disable --now mosquitto || service mosquitto stop) >/dev/null 2>&1 || true; \
	fi

bench-load: build bench-deps ## load suite: our broker vs Mosquitto and mochi (or PEER=host:port), report in bench/results/
	$(GO) build -trimpath -o $(BIN)/emqx_bench ./bench/emqx_bench
	cd bench/peers/mochi && $(GO) build -trimpath -o $(CURDIR)/$(BIN)/mochi_peer .
	$(BIN)/emqx_bench suite -out bench/results $(if $(PEER),-peer $(PEER)) $(BENCH_LOAD_FLAGS)

clean: ## remove build output
	rm -rf $(BIN)
