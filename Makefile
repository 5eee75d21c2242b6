# Shortlinks: the everyday commands. `make help` lists them.

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/shortlinks/shortlinks/internal/cli.version=$(VERSION)
FUZZTIME    ?= 30s

.PHONY: help run build test test-short lint fuzz clean

help:
	@echo "make run        start the server on the embedded SQLite default (http://localhost:8080)"
	@echo "make build      build bin/shortlinks"
	@echo "make test       run every test (set SHORTLINKS_TEST_* to include PostgreSQL, Redis, Chromium, MariaDB)"
	@echo "make lint       gofmt, go vet and staticcheck"
	@echo "make fuzz       run each fuzz target for FUZZTIME (default 30s)"
	@echo "make bench      measure Shortlinks against a minimal Go redirect server"
	@echo "make check-deploy  lint, render and test the chart, compose stack, Dockerfile and CI workflow (pinned helm, actionlint)"

run:
	go run ./cmd/shortlinks serve

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/shortlinks ./cmd/shortlinks

test:
	go test -race -count=1 -timeout 20m ./...

test-short:
	go test -short -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

fuzz:
	go test ./internal/link -run '^$$' -fuzz '^FuzzNormalizeURL$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/link -run '^$$' -fuzz '^FuzzCanonicalHost$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/link -run '^$$' -fuzz '^FuzzValidateAlias$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/shortcode -run '^$$' -fuzz '^FuzzPermutation$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/link -run '^$$' -fuzz '^FuzzParseCursor$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/cache -run '^$$' -fuzz '^FuzzCodec$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/httpapi -run '^$$' -fuzz '^FuzzCreate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/telemetry -run '^$$' -fuzz '^FuzzRequestID$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/transfer -run '^$$' -fuzz '^FuzzCSV$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/transfer -run '^$$' -fuzz '^FuzzJSONL$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/transfer -run '^$$' -fuzz '^FuzzShlinkCSV$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/transfer -run '^$$' -fuzz '^FuzzBitlyCSV$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/blocklist -run '^$$' -fuzz '^FuzzParseDomains$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/blocklist -run '^$$' -fuzz '^FuzzParseHosts$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/blocklist -run '^$$' -fuzz '^FuzzParseURLs$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/blocklist -run '^$$' -fuzz '^FuzzParseCSV$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

clean:
	rm -rf bin

include bench/bench.mk
include deploy/deploy.mk
