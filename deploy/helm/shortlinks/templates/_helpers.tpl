{{/* Names, labels and the settings shared by the server pods and the migration Job. */}}

{{- define "shortlinks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: release name, plus the chart name unless the release name contains it. */}}
{{- define "shortlinks.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "shortlinks.gatewayName" -}}
{{- printf "%s-gateway" (include "shortlinks.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shortlinks.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "shortlinks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shortlinks
{{- end }}

{{- define "shortlinks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shortlinks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "shortlinks.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ include "shortlinks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "shortlinks.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "shortlinks.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shortlinks.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the server pods read: the chart's own, or the one named by the operator. */}}
{{- define "shortlinks.secretName" -}}
{{- if .Values.secret.create }}
{{- include "shortlinks.fullname" . }}
{{- else }}
{{- default (include "shortlinks.fullname" .) .Values.secret.existingSecret }}
{{- end }}
{{- end }}

{{/*
The Secret the migration Job reads. A chart-made Secret does not exist yet when
a pre-install hook runs, so the chart also makes a hook Secret with the same
keys for the Job, created just before it and deleted once the hooks are done.
*/}}
{{- define "shortlinks.migrationSecretName" -}}
{{- if .Values.secret.create }}
{{- printf "%s-migrate" (include "shortlinks.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- include "shortlinks.secretName" . }}
{{- end }}
{{- end }}

{{/* The Secret's data, shared by the release's Secret and the migration hook's. */}}
{{- define "shortlinks.secretData" -}}
{{- if and (not .Values.secret.databaseURL) (not .Values.postgresql.cloudnativepg.enabled) }}
{{- fail "secret.databaseURL is required when secret.create is true (or set secret.create=false and create the Secret yourself)" }}
{{- end }}
{{- if and .Values.secret.codeKey (not (regexMatch "^[0-9a-fA-F]{64}$" .Values.secret.codeKey)) }}
{{- fail "secret.codeKey must be 64 hex digits (openssl rand -hex 32)" }}
{{- end -}}
{{- with .Values.secret.databaseURL }}
SHORTLINKS_DATABASE_URL: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secret.databaseReplicaURLs }}
SHORTLINKS_DATABASE_REPLICA_URLS: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secret.redisURL }}
SHORTLINKS_REDIS_URL: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secret.codeKey }}
SHORTLINKS_CODE_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secret.sentryDSN }}
SENTRY_DSN: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{- define "shortlinks.baseURL" -}}
{{- if .Values.config.baseURL }}
{{- .Values.config.baseURL }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) (first .Values.ingress.hosts) }}
{{- end }}
{{- end }}

{{/*
The server's non-secret environment as KEY: "value" lines: the ConfigMap's
data, and the migration Job's env (it runs before the ConfigMap exists).
*/}}
{{- define "shortlinks.configData" -}}
{{- $c := .Values.config -}}
SHORTLINKS_LISTEN: {{ printf ":%v" .Values.service.port | quote }}
SHORTLINKS_METRICS_LISTEN: {{ printf ":%v" .Values.service.metricsPort | quote }}
{{- with include "shortlinks.baseURL" . }}
SHORTLINKS_BASE_URL: {{ . | quote }}
{{- end }}
{{- with $c.trustedProxies }}
SHORTLINKS_TRUSTED_PROXIES: {{ join "," . | quote }}
{{- end }}
SHORTLINKS_LOG_FORMAT: {{ $c.logFormat | quote }}
SHORTLINKS_LOG_LEVEL: {{ $c.logLevel | quote }}
SHORTLINKS_LOG_REQUESTS: {{ $c.logRequests | quote }}
{{- if ne (toString $c.logRedirectSample) "" }}
SHORTLINKS_LOG_REDIRECT_SAMPLE: {{ toString $c.logRedirectSample | quote }}
{{- end }}
SHORTLINKS_DATABASE_MAX_CONNS: {{ toString $c.databaseMaxConns | quote }}
SHORTLINKS_CACHE_SIZE: {{ int64 $c.cacheSize | toString | quote }}
SHORTLINKS_ANALYTICS: {{ .Values.analytics.enabled | toString | quote }}
SHORTLINKS_DRAIN_DELAY: {{ printf "%ds" (int $c.drainDelaySeconds) | quote }}
SHORTLINKS_SHUTDOWN_TIMEOUT: {{ printf "%ds" (int $c.shutdownTimeoutSeconds) | quote }}
{{- with $c.sentryEnvironment }}
SENTRY_ENVIRONMENT: {{ . | quote }}
{{- end }}
{{- with $c.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
OTEL_SERVICE_NAME: {{ $c.otelServiceName | quote }}
{{- end }}
{{- range $k, $v := $c.extraEnv }}
{{ $k }}: {{ toString $v | quote }}
{{- end }}
{{- end }}

{{/* Seconds between SIGTERM and SIGKILL for the server pods: longer than the drain delay plus the shutdown timeout. */}}
{{- define "shortlinks.terminationGracePeriodSeconds" -}}
{{- $needed := add (int .Values.config.drainDelaySeconds) (int .Values.config.shutdownTimeoutSeconds) }}
{{- $set := int .Values.terminationGracePeriodSeconds }}
{{- if eq $set 0 }}
{{- add $needed 5 }}
{{- else if le $set (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than config.drainDelaySeconds + config.shutdownTimeoutSeconds (%d)" $set (int $needed)) }}
{{- else }}
{{- $set }}
{{- end }}
{{- end }}

{{/* The CloudNativePG Cluster's name; the operator names its Services and Secrets after it. */}}
{{- define "shortlinks.pgCluster" -}}
{{- printf "%s-pg" (include "shortlinks.fullname" .) | trunc 50 | trimSuffix "-" }}
{{- end }}

{{- define "shortlinks.redisName" -}}
{{- printf "%s-redis" (include "shortlinks.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Environment that the chart's own database and Redis give the server pods and
the migration Job, as list items. It comes after envFrom, so it wins over
keys of the same name in the Secret.
*/}}
{{- define "shortlinks.dependencyEnv" -}}
{{- $pg := .Values.postgresql.cloudnativepg -}}
{{- if $pg.enabled }}
{{- $cluster := include "shortlinks.pgCluster" . }}
- name: SHORTLINKS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s-app" $cluster }}
      key: uri
{{- if $pg.readFromStandbys }}
- name: SHORTLINKS_PG_USER
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s-app" $cluster }}
      key: username
- name: SHORTLINKS_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s-app" $cluster }}
      key: password
- name: SHORTLINKS_DATABASE_REPLICA_URLS
  value: {{ printf "postgresql://$(SHORTLINKS_PG_USER):$(SHORTLINKS_PG_PASSWORD)@%s-ro.%s:5432/%s" $cluster .Release.Namespace $pg.database | quote }}
{{- end }}
- name: SHORTLINKS_AUTO_MIGRATE
  value: "true"
{{- end }}
{{- if .Values.redis.sentinel.enabled }}
{{- $name := include "shortlinks.redisName" . }}
{{- $hosts := list }}
{{- range $i := until 3 }}
{{- $hosts = append $hosts (printf "%s-%d.%s.%s.svc:26379" $name $i $name $.Release.Namespace) }}
{{- end }}
- name: SHORTLINKS_REDIS_URL
  value: {{ printf "redis-sentinel://%s/%s" (join "," $hosts) .Values.redis.sentinel.masterName | quote }}
{{- end }}
{{- end }}

{{- define "shortlinks.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "shortlinks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{/* The Redis containers meet the restricted Pod Security Standard; the sentinel rewrites its config, so /conf is a writable emptyDir. */}}
{{- define "shortlinks.redisContainerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}
