package chartcheck

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Three branded domains besides the production values' sho.rt: one with
// the default Secret, one with its own, one without TLS.
var withDomains = []string{
	"domains[0].host=go.acme.com",
	"domains[1].host=acme.link",
	"domains[1].secretName=acme-link-tls",
	"domains[2].host=internal.acme.com",
	"domains[2].tls=false",
}

// The TLS sections the production values and withDomains give, in order.
var wantTLS = []networkingv1.IngressTLS{
	{Hosts: []string{"sho.rt"}, SecretName: "sho-rt-tls"},
	{Hosts: []string{"go.acme.com"}, SecretName: releaseName + "-go.acme.com-tls"},
	{Hosts: []string{"acme.link"}, SecretName: "acme-link-tls"},
}

// With cert-manager Certificates made by the chart instead of by the
// Ingress annotation.
var withCertificates = []string{
	"ingress.clusterIssuer=",
	"certManager.certificates=true",
	"certManager.issuerRef.name=letsencrypt",
}

func TestDomains(t *testing.T) {
	r := render(t, []string{productionVF}, withDomains...)

	// Every domain is a rule to the gateway; TLS sections for all but the
	// one without.
	ing := get[*networkingv1.Ingress](t, r, releaseName)
	gsvc := get[*corev1.Service](t, r, gatewayName)
	var hosts []string
	for _, rule := range ing.Spec.Rules {
		hosts = append(hosts, rule.Host)
		if b := rule.HTTP.Paths[0].Backend.Service; b == nil || b.Name != gsvc.Name {
			t.Errorf("Ingress rule %s routes to %+v, want the gateway", rule.Host, b)
		}
	}
	if want := []string{"sho.rt", "go.acme.com", "acme.link", "internal.acme.com"}; !slices.Equal(hosts, want) {
		t.Errorf("Ingress hosts %v, want %v", hosts, want)
	}
	if fmt.Sprint(ing.Spec.TLS) != fmt.Sprint(wantTLS) {
		t.Errorf("Ingress TLS %v\nwant        %v", ing.Spec.TLS, wantTLS)
	}
	// The annotation has cert-manager fill every section's Secret; the
	// chart makes no Certificate of its own.
	if ing.Annotations[issuerAnnot] != "letsencrypt" {
		t.Errorf("Ingress %s = %q", issuerAnnot, ing.Annotations[issuerAnnot])
	}
	if crs := all[*CustomResource](r); len(crs) != 0 {
		t.Errorf("with ingress.clusterIssuer the chart renders %s", r.kinds())
	}

	// The gateway serves each by name, from the file shortlinks.conf includes.
	cm := get[*corev1.ConfigMap](t, r, gatewayName)
	if got, want := serverNames(cm.Data["shortlinks-domains.conf"]), []string{"sho.rt", "go.acme.com", "acme.link", "internal.acme.com"}; !slices.Equal(got, want) {
		t.Errorf("gateway server names %v, want %v:\n%s", got, want, cm.Data["shortlinks-domains.conf"])
	}
	d := get[*appsv1.Deployment](t, r, gatewayName)
	var mounted bool
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted = mounted || (m.MountPath == "/etc/nginx/shortlinks-domains.conf" && m.SubPath == "shortlinks-domains.conf")
	}
	if !mounted {
		t.Error("the gateway does not mount shortlinks-domains.conf where shortlinks.conf includes it")
	}
	// The notes say what is left: registering each domain with Shortlinks.
	for _, h := range []string{"go.acme.com", "acme.link", "internal.acme.com"} {
		if !strings.Contains(r.Notes, "shortlinks domain add "+h+"\n") {
			t.Errorf("NOTES.txt does not say to add %s:\n%s", h, r.Notes)
		}
	}
	// Adding a domain rolls the gateway pods (subPath mounts never update).
	before := get[*appsv1.Deployment](t, render(t, []string{productionVF}), gatewayName)
	if before.Spec.Template.Annotations["checksum/config"] == d.Spec.Template.Annotations["checksum/config"] {
		t.Error("the gateway pods do not roll when a domain is added")
	}
}

func TestDomainsWithoutGateway(t *testing.T) {
	// The Ingress sends every domain straight to the server Service.
	r := render(t, []string{productionVF}, append(withDomains, "gateway.enabled=false")...)
	ing := get[*networkingv1.Ingress](t, r, releaseName)
	svc := get[*corev1.Service](t, r, releaseName)
	if len(ing.Spec.Rules) != 4 {
		t.Fatalf("Ingress rules %v, want 4", ing.Spec.Rules)
	}
	for _, rule := range ing.Spec.Rules {
		if b := rule.HTTP.Paths[0].Backend.Service; b == nil || b.Name != svc.Name || b.Port.Number != servicePort(svc, "http").Port {
			t.Errorf("Ingress rule %s routes to %+v, want the server Service", rule.Host, b)
		}
	}
}

func TestCertificates(t *testing.T) {
	r := render(t, []string{productionVF}, append(withDomains, withCertificates...)...)
	ing := get[*networkingv1.Ingress](t, r, releaseName)
	if _, ok := ing.Annotations[issuerAnnot]; ok {
		t.Errorf("Ingress keeps %s beside the chart's Certificates", issuerAnnot)
	}
	// One Certificate per TLS section, checked against cert-manager's
	// pinned CRD when decoded, filling that section's Secret with its hosts.
	var certs []*CustomResource
	for _, cr := range all[*CustomResource](r) {
		if cr.APIVersion != "cert-manager.io/v1" || cr.Kind != "Certificate" {
			t.Errorf("unexpected %s %s", cr.APIVersion, cr.Kind)
			continue
		}
		certs = append(certs, cr)
	}
	if len(certs) != len(wantTLS) {
		t.Fatalf("%d Certificates, want one per TLS section (%d): %v", len(certs), len(wantTLS), r.kinds())
	}
	for i, tls := range wantTLS {
		c := certs[i]
		spec := c.Object["spec"].(map[string]any)
		var dns []string
		for _, n := range spec["dnsNames"].([]any) {
			dns = append(dns, n.(string))
		}
		if c.Name != tls.SecretName || spec["secretName"] != tls.SecretName || !slices.Equal(dns, tls.Hosts) {
			t.Errorf("Certificate %s: secret %v, names %v; want %s for %v", c.Name, spec["secretName"], dns, tls.SecretName, tls.Hosts)
		}
		ref := spec["issuerRef"].(map[string]any)
		if ref["name"] != "letsencrypt" || ref["kind"] != "ClusterIssuer" || ref["group"] != "cert-manager.io" {
			t.Errorf("Certificate %s issuerRef %v, want the letsencrypt ClusterIssuer", c.Name, ref)
		}
		if c.Labels["app.kubernetes.io/instance"] != releaseName {
			t.Errorf("Certificate %s labels %v", c.Name, c.Labels)
		}
	}

	// A namespaced Issuer.
	r = render(t, []string{productionVF}, append(withCertificates, "certManager.issuerRef.kind=Issuer", "certManager.issuerRef.name=local-ca")...)
	c := customResource(t, r, "Certificate", "sho-rt-tls")
	if ref := c.Object["spec"].(map[string]any)["issuerRef"].(map[string]any); ref["kind"] != "Issuer" || ref["name"] != "local-ca" {
		t.Errorf("issuerRef %v, want the Issuer local-ca", ref)
	}
}

func TestCertificateSchemaValidation(t *testing.T) {
	// The pinned cert-manager CRD must refuse what the API server would.
	const cert = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: x}\nspec:\n  secretName: x-tls\n"
	for name, doc := range map[string]string{
		"unknown field":    cert + "  dnsName: [a.example]\n  issuerRef: {name: le}\n",
		"misplaced field":  cert + "  dnsNames: [a.example]\n  issuerRef: {name: le, rotationPolicy: Always}\n",
		"wrong type":       cert + "  dnsNames: a.example\n  issuerRef: {name: le}\n",
		"bad enum":         cert + "  dnsNames: [a.example]\n  issuerRef: {name: le}\n  privateKey: {rotationPolicy: Sometimes}\n",
		"missing required": cert + "  dnsNames: [a.example]\n  issuerRef: {kind: ClusterIssuer}\n",
		"no secret":        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: x}\nspec:\n  dnsNames: [a.example]\n  issuerRef: {name: le}\n",
	} {
		if _, err := decode("test", doc); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := decode("test", cert+"  dnsNames: [a.example]\n  issuerRef: {name: le, kind: ClusterIssuer, group: cert-manager.io}\n  privateKey: {rotationPolicy: Always}\n"); err != nil {
		t.Errorf("valid Certificate: %v", err)
	}
}

func TestRefusedDomains(t *testing.T) {
	prod := []string{productionVF}
	for _, tt := range []struct {
		name string
		vf   []string
		set  []string
		want string
	}{
		{"upper case", prod, []string{"domains[0].host=Go.Acme.com"}, "not a lower-case host name"},
		{"port", prod, []string{"domains[0].host=go.acme.com:443"}, "not a lower-case host name"},
		{"no dot", prod, []string{"domains[0].host=localhost"}, "not a lower-case host name"},
		{"missing host", prod, []string{"domains[0].tls=true"}, "not a lower-case host name"},
		{"unknown key", prod, []string{"domains[0].host=go.acme.com", "domains[0].tsl=true"}, `unknown key "tsl"`},
		{"tls as a string", prod, []string{"domains[0].host=go.acme.com", "domains[0].tls=yes"}, "want true or false"},
		{"twice", prod, []string{"domains[0].host=go.acme.com", "domains[1].host=go.acme.com"}, "listed twice"},
		{"the default domain", prod, []string{"domains[0].host=sho.rt"}, "listed twice (also in ingress.hosts)"},
		{"certificates without issuer", prod, []string{"ingress.clusterIssuer=", "certManager.certificates=true"}, "certManager.issuerRef.name is required"},
		{"certificates and annotation", prod, []string{"certManager.certificates=true", "certManager.issuerRef.name=le"}, "keep one"},
		{"certificates without ingress", nil, []string{"certManager.certificates=true", "certManager.issuerRef.name=le"}, "set ingress.enabled"},
		{"gateway with no host", nil, []string{"gateway.enabled=true"}, "the gateway serves only the hosts it is given"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tryRender(tt.vf, tt.set...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The gateway without an Ingress serves the base URL's host.
	r := render(t, nil, "gateway.enabled=true", "config.baseURL=https://Sho.rt:8443", "domains[0].host=go.acme.com")
	if got := serverNames(get[*corev1.ConfigMap](t, r, gatewayName).Data["shortlinks-domains.conf"]); !slices.Equal(got, []string{"sho.rt", "go.acme.com"}) {
		t.Errorf("gateway server names %v, want [sho.rt go.acme.com]", got)
	}
}

var serverNameLine = regexp.MustCompile(`(?m)^\s*server_name\s+([^;\s]+);`)

// serverNames returns the names of a domains file's server_name lines.
func serverNames(conf string) []string {
	var out []string
	for _, m := range serverNameLine.FindAllStringSubmatch(conf, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestGatewayConfigLoads has nginx itself load the gateway configuration
// the chart renders (deploy/nginx/shortlinks.conf with the chart's upstream
// and domains files) and the compose stack's (the same file with
// deploy/nginx/*.compose.conf), as the official image's nginx.conf includes
// them.
func TestGatewayConfigLoads(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx, err = exec.LookPath("/usr/sbin/nginx")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed (make check-deploy installs it)")
		}
		t.Skip("nginx is not installed")
	}
	shipped := string(mustRead(t, repoPath("deploy", "nginx", "shortlinks.conf")))
	for _, inc := range []string{"include shortlinks-upstreams.conf;", "include shortlinks-domains.conf;"} {
		if n := strings.Count(shipped, inc); n != 1 {
			t.Fatalf("deploy/nginx/shortlinks.conf holds %q %d times, want once", inc, n)
		}
	}
	compose := func(name string) string {
		return string(mustRead(t, repoPath("deploy", "nginx", name+".compose.conf")))
	}
	cm := get[*corev1.ConfigMap](t, render(t, []string{productionVF}, withDomains...), gatewayName)
	for name, files := range map[string]map[string]string{
		"chart": cm.Data,
		"compose": {
			"shortlinks.conf":           shipped,
			"shortlinks-upstreams.conf": compose("shortlinks-upstreams"),
			"shortlinks-domains.conf":   compose("shortlinks-domains"),
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			conf := files["shortlinks.conf"]
			// Only what needs root or a resolver changes: file paths, the
			// port, and the upstream names (nginx resolves them at load).
			conf = strings.ReplaceAll(conf, "/var/log/nginx/", dir+"/")
			conf = strings.ReplaceAll(conf, "/tmp/nginx-shortlinks-static", dir+"/static")
			conf = strings.ReplaceAll(conf, "listen 80", "listen 127.0.0.1:1")
			upstreams := regexp.MustCompile(`(?m)^(\s*server\s+)[^\s;:]+:`).ReplaceAllString(files["shortlinks-upstreams.conf"], "${1}127.0.0.1:")
			var main strings.Builder
			fmt.Fprintf(&main, "pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n", dir)
			for _, temp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
				fmt.Fprintf(&main, "    %s_temp_path %s/%s;\n", temp, dir, temp)
			}
			fmt.Fprintf(&main, "    include %s/conf.d/*.conf;\n}\n", dir)
			for path, content := range map[string]string{
				"nginx.conf":                main.String(),
				"conf.d/default.conf":       conf,
				"shortlinks-upstreams.conf": upstreams,
				"shortlinks-domains.conf":   files["shortlinks-domains.conf"],
			} {
				p := filepath.Join(dir, path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := exec.Command(nginx, "-t", "-q", "-e", "stderr", "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput()
			if err != nil {
				t.Fatalf("nginx -t on the %s's gateway configuration: %v\n%s", name, err, out)
			}
			if len(serverNames(files["shortlinks-domains.conf"])) == 0 {
				t.Errorf("the %s's domains file names no host", name)
			}
		})
	}
}
