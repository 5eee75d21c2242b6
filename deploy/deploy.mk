# 'make check-deploy': every check of Shortlinks' deployment files, with
# pinned tools. Include this file from the Makefile, or run it alone from the
# repository root: make -f deploy/deploy.mk check-deploy
#
#   helm lint --strict and helm template  the chart, with default, production and chart-made-Secret values,
#                                         with its own CloudNativePG database and Redis Sentinel, and with
#                                         branded domains, through the Ingress annotation and through the
#                                         chart's own cert-manager Certificates
#   deploy/chartcheck (go vet, staticcheck, go test)
#                                         every rendered manifest decoded strictly into the Kubernetes
#                                         API types and checked; the Argo CD Application; the Dockerfile
#                                         through BuildKit's front end (lint, image config, a real build
#                                         of its go build step); .dockerignore; the compose stack; the
#                                         cert-manager Certificates against cert-manager's pinned CRD; nginx -t
#                                         on the gateway configuration as the chart and compose assemble it
#   compose config -q                     deploy/compose/compose.yaml with `docker compose` (or docker-compose)
#   promtool check config                 the compose stack's Prometheus configuration
#   shellcheck                            the compose stack's scripts
#   actionlint                            .github/workflows (with shellcheck on their run: steps)
#
# Helm and actionlint are built from the Go module proxy into bin/deploy-tools
# the first time (helm takes a few minutes); docker-compose, promtool,
# shellcheck and nginx come from Debian packages when missing. A tool that cannot be
# had fails the target: nothing is skipped.

DEPLOY_DIR         := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
DEPLOY_ROOT        := $(abspath $(DEPLOY_DIR)/..)
HELM_VERSION       := v3.22.0
ACTIONLINT_VERSION := v1.7.12
DEPLOY_STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
DEPLOY_TOOLS       := $(DEPLOY_ROOT)/bin/deploy-tools
HELM               := $(DEPLOY_TOOLS)/helm-$(HELM_VERSION)/helm
ACTIONLINT         := $(DEPLOY_TOOLS)/actionlint-$(ACTIONLINT_VERSION)/actionlint
CHART              := $(DEPLOY_ROOT)/deploy/helm/shortlinks
COMPOSE_FILE       := $(DEPLOY_ROOT)/deploy/compose/compose.yaml
APT_INSTALL        := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
# Branded domains, and the chart's own cert-manager Certificates for them.
CHART_DOMAINS      := domains[0].host=go.example.com,domains[1].host=example.link,domains[1].secretName=example-link-tls,domains[2].host=intra.example.com,domains[2].tls=false
CHART_CERTIFICATES := ingress.clusterIssuer=,certManager.certificates=true,certManager.issuerRef.name=letsencrypt
# Helm's release builds set the Kubernetes version it assumes without a
# cluster (helm template) and its own version; so does this one.
HELM_LDFLAGS       := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/internal/version.gitTreeState=clean \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37

.PHONY: check-deploy check-chart check-chartcheck check-compose check-workflows

check-deploy: check-chart check-chartcheck check-compose check-workflows
	@echo "check-deploy: all deployment checks passed"

$(HELM):
	GOBIN=$(dir $@) go install -trimpath -ldflags '$(HELM_LDFLAGS)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	test "$$($@ version --template '{{.Version}}')" = $(HELM_VERSION)

$(ACTIONLINT):
	GOBIN=$(dir $@) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

check-chart: $(HELM)
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) -f $(CHART)/values-production.yaml
	$(HELM) lint --strict $(CHART) --set secret.create=true,secret.databaseURL=postgres://shortlinks@db/shortlinks
	$(HELM) template shortlinks $(CHART) --namespace shortlinks >/dev/null
	$(HELM) template shortlinks $(CHART) --namespace shortlinks -f $(CHART)/values-production.yaml >/dev/null
	$(HELM) lint --strict $(CHART) --set secret.create=true,postgresql.cloudnativepg.enabled=true,redis.sentinel.enabled=true
	$(HELM) template shortlinks $(CHART) --namespace shortlinks --set secret.create=true,postgresql.cloudnativepg.enabled=true,redis.sentinel.enabled=true >/dev/null
	$(HELM) lint --strict $(CHART) -f $(CHART)/values-production.yaml --set '$(CHART_DOMAINS)'
	$(HELM) template shortlinks $(CHART) --namespace shortlinks -f $(CHART)/values-production.yaml --set '$(CHART_DOMAINS)' >/dev/null
	$(HELM) lint --strict $(CHART) -f $(CHART)/values-production.yaml --set '$(CHART_DOMAINS),$(CHART_CERTIFICATES)'
	$(HELM) template shortlinks $(CHART) --namespace shortlinks -f $(CHART)/values-production.yaml --set '$(CHART_DOMAINS),$(CHART_CERTIFICATES)' >/dev/null

check-chartcheck:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || $(APT_INSTALL) nginx
	cd $(DEPLOY_ROOT)/deploy/chartcheck && go vet ./...
	cd $(DEPLOY_ROOT)/deploy/chartcheck && go run $(DEPLOY_STATICCHECK) ./...
	cd $(DEPLOY_ROOT)/deploy/chartcheck && go test -count=1 ./...

check-compose:
	@set -e; \
	if docker compose version >/dev/null 2>&1; then compose="docker compose"; \
	else command -v docker-compose >/dev/null || $(APT_INSTALL) docker-compose; compose=docker-compose; fi; \
	echo "$$compose -f $(COMPOSE_FILE) config -q"; \
	$$compose -f $(COMPOSE_FILE) config -q
	@command -v promtool >/dev/null || $(APT_INSTALL) prometheus
	promtool check config $(DEPLOY_ROOT)/deploy/compose/prometheus/prometheus.yml
	@command -v shellcheck >/dev/null || $(APT_INSTALL) shellcheck
	shellcheck $(DEPLOY_ROOT)/deploy/compose/postgres/*.sh

check-workflows: $(ACTIONLINT)
	@command -v shellcheck >/dev/null || $(APT_INSTALL) shellcheck
	cd $(DEPLOY_ROOT) && $(ACTIONLINT) -shellcheck=shellcheck .github/workflows/*.yml
