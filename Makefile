# idplug — everything a developer runs. `make run` starts a demo; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Every build outside the race-instrumented tests is static and -trimpath (as the
# images are, and internal/gobuild for the tests): one set of compiled packages in
# Go's build cache serves them all.
PLUGINS := $(notdir $(wildcard plugins/*))
TOOLS := $(CURDIR)/bin/tools

.PHONY: all build test lint proto proto-check run bench clean setup tools image

all: build

## build: the host at bin/idplug, every bundled plugin at bin/plugins/idplug-connector-<name>, bin/plugins/SHA256SUMS, and the demo app at bin/demo-app
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/idplug ./host/cmd/idplug
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/demo-app ./scripts/demo-app
	scripts/build-plugins bin/plugins $(PLUGINS)

## test: installs what the tests need (npm packages, Chromium, PostgreSQL), checks generated code, runs every Go test with -race
test:
	scripts/test

## lint: buf lint, go vet, staticcheck
lint: tools
	$(TOOLS)/buf lint
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

## proto: regenerate Go code from proto/ (tools are installed into bin/tools, then it works offline)
proto: tools
	PATH="$(TOOLS):$$PATH" $(TOOLS)/buf generate

## proto-check: fail when the committed generated code is stale
proto-check: tools
	scripts/proto-check

## run: build, then start a local OpenID provider and idplug signed in against it (no outside network)
run: build
	scripts/setup --demo
	scripts/run-demo

## bench: the benchmark suite with side-by-side ratios
bench: build
	scripts/bench

setup:
	scripts/setup

tools:
	scripts/install-tools $(TOOLS)

clean:
	rm -rf bin artifacts

## image: the container images idplug:latest and idplug-logto:latest (a Docker engine is started when none answers; see deploy/image)
image:
	scripts/build-image
