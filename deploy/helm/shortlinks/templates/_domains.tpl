{{/*
Short domains. The default domain is the base URL's host and ingress.hosts;
the branded ones are listed in .Values.domains. From them come the Ingress's
rules and TLS sections, the gateway's server names and, with
certManager.certificates, one cert-manager Certificate per TLS section.
Shortlinks itself learns of a branded domain from `shortlinks domain add`
(docs/deploy.md).
*/}}

{{/* shortlinks.checkDomains fails on domain values that cannot work; it renders nothing. */}}
{{- define "shortlinks.checkDomains" -}}
{{- $seen := dict }}
{{- range .Values.ingress.hosts }}
{{- $_ := set $seen . "ingress.hosts" }}
{{- end }}
{{- $hostRE := `^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$` }}
{{- range $i, $d := .Values.domains }}
{{- if not (kindIs "map" $d) }}
{{- fail (printf "domains[%d]: want a map like {host: go.example.com, tls: true}, not %v" $i $d) }}
{{- end }}
{{- range $k, $_ := $d }}
{{- if not (has $k (list "host" "tls" "secretName")) }}
{{- fail (printf "domains[%d]: unknown key %q (known: host, tls, secretName)" $i $k) }}
{{- end }}
{{- end }}
{{- $h := get $d "host" }}
{{- if or (not (kindIs "string" $h)) (not (regexMatch $hostRE (toString $h))) (gt (len (toString $h)) 253) }}
{{- fail (printf "domains[%d].host: %q is not a lower-case host name like go.example.com (an internationalised name in its xn-- form)" $i (toString $h)) }}
{{- end }}
{{- if hasKey $seen $h }}
{{- fail (printf "domains[%d].host: %s is listed twice (also in %s)" $i $h (get $seen $h)) }}
{{- end }}
{{- $_ := set $seen $h (printf "domains[%d]" $i) }}
{{- if and (hasKey $d "tls") (not (kindIs "bool" (get $d "tls"))) }}
{{- fail (printf "domains[%d].tls: want true or false" $i) }}
{{- end }}
{{- end }}
{{- if .Values.certManager.certificates }}
{{- if not .Values.ingress.enabled }}
{{- fail "certManager.certificates: the certificates are for the Ingress's TLS sections; set ingress.enabled" }}
{{- end }}
{{- if .Values.ingress.clusterIssuer }}
{{- fail "certManager.certificates and ingress.clusterIssuer both have cert-manager make the Ingress's certificates: keep one" }}
{{- end }}
{{- if not .Values.certManager.issuerRef.name }}
{{- fail "certManager.issuerRef.name is required when certManager.certificates is true" }}
{{- end }}
{{- end }}
{{- end }}

{{/* shortlinks.domainHosts: the branded domains' hosts, as a YAML list. */}}
{{- define "shortlinks.domainHosts" -}}
{{- $hosts := list }}
{{- range .Values.domains }}
{{- $hosts = append $hosts (get . "host") }}
{{- end }}
{{- toYaml $hosts }}
{{- end }}

{{/*
shortlinks.tlsSections: the Ingress's TLS sections, as a YAML list of
{hosts, secretName}: the default domain's (ingress.tls), then one per
branded domain with tls (the default).
*/}}
{{- define "shortlinks.tlsSections" -}}
{{- include "shortlinks.checkDomains" . }}
{{- $out := list }}
{{- if and .Values.ingress.tls.enabled .Values.ingress.hosts }}
{{- $out = append $out (dict "hosts" .Values.ingress.hosts "secretName" (default (printf "%s-tls" (include "shortlinks.fullname" .)) .Values.ingress.tls.secretName)) }}
{{- end }}
{{- range .Values.domains }}
{{- if ternary (get . "tls") true (hasKey . "tls") }}
{{- $out = append $out (dict "hosts" (list (get . "host")) "secretName" (default (printf "%s-%s-tls" (include "shortlinks.fullname" $) (get . "host")) (get . "secretName"))) }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
shortlinks.serverNames: the gateway's shortlinks-domains.conf, one
server_name line per host it serves: the base URL's host, the Ingress's
hosts and the branded domains.
*/}}
{{- define "shortlinks.serverNames" -}}
{{- include "shortlinks.checkDomains" . }}
{{- $names := list }}
{{- with include "shortlinks.baseURL" . }}
{{- $names = append $names (regexReplaceAll ":[0-9]+$" (get (urlParse .) "host") "" | lower) }}
{{- end }}
{{- if .Values.ingress.enabled }}
{{- $names = concat $names .Values.ingress.hosts }}
{{- end }}
{{- $names = concat $names (include "shortlinks.domainHosts" . | fromYamlArray) | uniq }}
{{- if not $names }}
{{- fail "gateway.enabled: the gateway serves only the hosts it is given: set config.baseURL, ingress.hosts (with ingress.enabled) or domains" }}
{{- end }}
{{- printf "# The short domains this gateway serves (the chart's config.baseURL, ingress.hosts and domains).\n" }}
{{- range $names }}
{{- printf "server_name %s;\n" . }}
{{- end }}
{{- end }}
