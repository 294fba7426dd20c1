# Interp's build, test and benchmark entry points. `make test` is what CI
# runs: it installs what it needs first.
export CGO_ENABLED := 0
GO ?= go
# scripts/setup puts a pinned Node here when the system has none new enough.
INTERP_HOME ?= /opt/interp
export PATH := $(INTERP_HOME)/node/bin:$(PATH)

.PHONY: all setup build test test-sdk vet lint pycheck bench bench-web eval-peer pg clean web web-test chromium screenshots

all: build

setup:
	scripts/setup

# interp-sandbox must sit beside interp: it is every sandbox's first
# process, and starts faster than interp re-executing itself.
build: web
	$(GO) build -trimpath -ldflags="-s -w" -o bin/interp ./cmd/interp
	$(GO) build -trimpath -ldflags="-s -w" -o bin/interp-sandbox ./cmd/interp-sandbox

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...

# lint runs golangci-lint, pinned here and built from the Go module proxy
# into .tools/ the first time, with the linters .golangci.yml chooses. Its
# results are cached (~/.cache/golangci-lint), so a rerun checks only what
# changed; two checkouts' make test may lint at once.
GOLANGCI_LINT_VERSION := v2.5.0
GOLANGCI_LINT := .tools/golangci-lint-$(GOLANGCI_LINT_VERSION)
$(GOLANGCI_LINT):
	GOBIN=$(CURDIR)/.tools/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv .tools/bin/golangci-lint $@
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

# pycheck lints and format-checks the repository's Python with ruff
# (ruff.toml) and runs runner.py's pytest tests; scripts/pycheck installs
# the pinned tools into .tools/pyvenv the first time.
pycheck: setup
	scripts/pycheck

# The history store's tests run against SQLite and a real PostgreSQL,
# which scripts/postgres installs and starts on 127.0.0.1:54329.
# The web UI's tests: Biome (lint and format), Vitest, and (within go test)
# Playwright in Debian's Chromium against a real interp serve.
test: setup vet lint pycheck web-test chromium
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
	$(MAKE) --no-print-directory bench-web

# eval-peer runs the eval suite through Open Interpreter on the local model
# (eval/peer/run; PEER_ARGS such as --limit 20), the baseline of BENCHMARKS.md's
# "Answer quality".
eval-peer: build
	eval/peer/run $(PEER_ARGS)

# bench-web measures the web UI in Chromium and writes its section of
# BENCHMARKS.md.
bench-web: web chromium
	E2E_BENCH=$(CURDIR)/BENCHMARKS.md E2E_ARGS=e2e/bench.spec.ts $(GO) test -count=1 -run TestBrowser -v ./web

# pg starts the test PostgreSQL server and prints its DSN.
pg:
	@scripts/postgres

# web builds the UI into web/dist/ui, which the binary embeds.
web: web/node_modules/.installed
	cd web && npm run build --silent

web/node_modules/.installed: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web-test: web/node_modules/.installed
	cd web && npm run lint --silent && npm test --silent

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# screenshots regenerates docs/*.png from the browser tests.
screenshots: web chromium
	E2E_SHOTS=$(CURDIR)/docs E2E_ARGS=e2e/views.spec.ts $(GO) test -count=1 -run TestBrowser -v ./web

clean:
	rm -rf bin web/dist/ui
