# Shortlinks: the everyday commands. `make help` lists them.

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
REDOCLY     := @redocly/cli@2.77.0
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/shortlinks/shortlinks/internal/cli.version=$(VERSION)
FUZZTIME    ?= 30s

.PHONY: help run build test test-short test-ha test-upgrade test-analytics lint lint-openapi fuzz clean screenshots

help:
	@echo "make run        start the server on the embedded SQLite default (http://localhost:8080)"
	@echo "make build      build bin/shortlinks"
	@echo "make test       run every test (set SHORTLINKS_TEST_* to include PostgreSQL, Redis, Chromium, MariaDB)"
	@echo "make test-ha    the failover suites alone: Patroni + etcd + PostgreSQL, Redis Sentinel (a few minutes; HA_REPORT=FILE appends the figures)"
	@echo "make test-upgrade  the previous schema-changing version serves PostgreSQL under traffic while this one migrates and starts (builds it from git history)"
	@echo "make test-analytics  click analytics end to end on PostgreSQL and Redis: workers killed, Redis stopped (about a minute)"
	@echo "make lint       gofmt, go vet and staticcheck"
	@echo "make lint-openapi  lint the OpenAPI document with Redocly's CLI (needs Node.js; fetched by npx, pinned)"
	@echo "make fuzz       run each fuzz target for FUZZTIME (default 30s)"
	@echo "make screenshots  capture the dashboard's pages into docs/images from its Chromium test"
	@echo "make bench      measure Shortlinks against a minimal Go redirect server"
	@echo "make check-deploy  lint, render and test the chart (with branded domains and cert-manager certificates), the nginx gateway configuration, compose stack, Dockerfile and CI workflow (pinned helm, actionlint)"

run:
	go run ./cmd/shortlinks serve

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/shortlinks ./cmd/shortlinks

test:
	go test -race -count=1 -timeout 20m ./...

# The failover suites start etcd, Patroni, PostgreSQL 15 and Redis Sentinel
# (Debian: patroni etcd-server etcd-client redis-sentinel) and need
# SHORTLINKS_TEST_POSTGRES and SHORTLINKS_TEST_REDIS like make test; make
# test skips them.
HA_REPORT ?=
test-ha:
	SHORTLINKS_TEST_HA=1 SHORTLINKS_HA_REPORT=$(HA_REPORT) go test -count=1 -v -timeout 20m -run 'Failover' ./e2e/failover/

# The upgrade test builds the version before the latest schema change from
# git history (a full clone: git fetch --unshallow) and needs
# SHORTLINKS_TEST_POSTGRES; make test skips it. See CONTRIBUTING.md.
test-upgrade:
	SHORTLINKS_TEST_UPGRADE=1 go test -count=1 -v -timeout 15m -run 'Upgrade' ./e2e/upgrade/

# Click analytics end to end on PostgreSQL and Redis: real worker processes
# killed with SIGKILL and restarted, two at once, Redis stopped under
# traffic. Needs SHORTLINKS_TEST_POSTGRES and SHORTLINKS_TEST_REDIS.
test-analytics:
	SHORTLINKS_TEST_ANALYTICS=1 go test -count=1 -timeout 10m ./e2e/analytics/

# The README's pictures of the dashboard, taken by its test in real Chromium
# (CHROMIUM: the browser to drive).
CHROMIUM ?= /usr/bin/chromium
screenshots:
	mkdir -p docs/images
	SHORTLINKS_TEST_CHROMIUM=$(CHROMIUM) SHORTLINKS_SCREENSHOTS=$(CURDIR)/docs/images \
		go test -count=1 -run '^TestBrowser(Dashboard|LinkEditing|Domains|Import)$$' ./internal/web/

test-short:
	go test -short -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

# Errors fail; warnings are shown. The document is also held to the server
# by the contract tests in internal/httpapi.
lint-openapi:
	npx --yes $(REDOCLY) lint --format=codeframe internal/httpapi/openapi.yaml

fuzz:
	go test ./internal/link -run '^$$' -fuzz '^FuzzNormalizeURL$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/link -run '^$$' -fuzz '^FuzzCanonicalHost$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/link -run '^$$' -fuzz '^FuzzValidateAlias$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/account -run '^$$' -fuzz '^FuzzNormalizeEmail$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/password -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
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
	go test ./internal/report -run '^$$' -fuzz '^FuzzSubmit$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/web -run '^$$' -fuzz '^FuzzDescribeHost$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/blocklist -run '^$$' -fuzz '^FuzzParseCSV$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/analytics -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/analytics/sqlitesink -run '^$$' -fuzz '^FuzzDecodePack$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/analytics/sqlitesink -run '^$$' -fuzz '^FuzzFindPack$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/analytics/sqlitesink -run '^$$' -fuzz '^FuzzDecodeRollups$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/httpapi -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	go test ./internal/compat/shlink -run '^$$' -fuzz '^FuzzCreateRequest$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

clean:
	rm -rf bin

include bench/bench.mk
include deploy/deploy.mk
