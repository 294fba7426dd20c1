# Interp's build, test and benchmark entry points. `make test` is what CI
# runs: it installs what it needs first.
export CGO_ENABLED := 0
GO ?= go

.PHONY: all setup build test test-sdk vet bench pg clean

all: build

setup:
	scripts/setup

# interp-sandbox must sit beside interp: it is every sandbox's first
# process, and starts faster than interp re-executing itself.
build:
	$(GO) build -trimpath -ldflags="-s -w" -o bin/interp ./cmd/interp
	$(GO) build -trimpath -ldflags="-s -w" -o bin/interp-sandbox ./cmd/interp-sandbox

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...

# The history store's tests run against SQLite and a real PostgreSQL,
# which scripts/postgres installs and starts on 127.0.0.1:54329.
test: setup vet
	INTERP_TEST_POSTGRES_DSN=$${INTERP_TEST_POSTGRES_DSN:-$$(scripts/postgres)} \
		$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) test-sdk

# The SDKs' tests, against a real interp serve (sdk/testenv.py); each
# installs its pinned tools into its own ignored directory.
test-sdk: build
	sdk/python/scripts/test
	cd sdk/typescript && npm ci --no-audit --no-fund --silent && npm test --silent

bench: setup
	$(GO) run ./cmd/interp-bench -out BENCHMARKS.md

# pg starts the test PostgreSQL server and prints its DSN.
pg:
	@scripts/postgres

clean:
	rm -rf bin
