# Interp's build, test and benchmark entry points. `make test` is what CI
# runs: it installs what it needs first.
export CGO_ENABLED := 0
GO ?= go

.PHONY: all setup build test vet bench clean

all: build

setup:
	scripts/setup

build:
	$(GO) build -o bin/interp ./cmd/interp

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...

test: setup vet
	$(GO) test -count=1 -timeout 15m ./...

bench: setup
	$(GO) run ./cmd/interp-bench -out BENCHMARKS.md

clean:
	rm -rf bin
