package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCreateRefusesAmbiguousBodies holds the decoder to exact field names
// and single keys, and checks that expiries that cannot be meant give a
// clear error naming the field, never a link.
func TestCreateRefusesAmbiguousBodies(t *testing.T) {
	f := newHandlerFixture(t)
	tests := []struct {
		name, body    string
		code, field   string
		wantInMessage string
	}{
		{"case-folded duplicate", `{"url":"https://good.example/","URL":"https://evil.example/"}`, "unknown_field", "URL", "case-sensitive"},
		{"wrong case alone", `{"URL":"https://evil.example/"}`, "unknown_field", "URL", `did you mean "url"`},
		{"wrong case alias", `{"url":"https://good.example/","Alias":"x-evil"}`, "unknown_field", "Alias", "case-sensitive"},
		{"duplicate key", `{"url":"https://good.example/","url":"https://evil.example/"}`, "duplicate_field", "url", "twice"},
		{"duplicate later key", `{"url":"https://good.example/","alias":"one-a","expires_in":60,"alias":"two-b"}`, "duplicate_field", "alias", "twice"},
		{"escaped duplicate", `{"url":"https://good.example/","\u0075rl":"https://evil.example/"}`, "duplicate_field", "url", "twice"},
		{"zero time", `{"url":"https://example.com/","expires_at":"0001-01-01T00:00:00Z"}`, "expiry_in_past", "expires_at", "never expires"},
		{"far past", `{"url":"https://example.com/","expires_at":"1900-01-01T00:00:00Z"}`, "expiry_in_past", "expires_at", "already passed"},
		{"expires_in too large", `{"url":"https://example.com/","expires_in":100000000000}`, "invalid_expiry", "expires_in", "too far in the future"},
		{"expires_in overflowing", `{"url":"https://example.com/","expires_in":9223372036854775807}`, "invalid_expiry", "expires_in", "too far in the future"},
		{"expires_in negative", `{"url":"https://example.com/","expires_in":-5}`, "invalid_expiry", "expires_in", "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.create(tt.body)
			code, field, msg := problemOf(t, rec)
			if rec.Code != http.StatusBadRequest || code != tt.code || field != tt.field || !strings.Contains(msg, tt.wantInMessage) {
				t.Fatalf("%s: %d %s, want 400 %s on %s saying %q", tt.body, rec.Code, rec.Body, tt.code, tt.field, tt.wantInMessage)
			}
		})
	}
	// Keys may repeat in different objects, and well-formed bodies pass.
	if rec := f.create(`{"url":"https://example.com/fine","alias":"fine-1"}`); rec.Code != http.StatusCreated {
		t.Fatalf("a plain body: %d %s", rec.Code, rec.Body)
	}
}

// TestTwoAuthorizationHeaders refuses a request whose key is ambiguous.
func TestTwoAuthorizationHeaders(t *testing.T) {
	f := newHandlerFixture(t)
	key := f.key("one", false)
	for _, tt := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/links", `{"url":"https://example.com/"}`},
		{http.MethodGet, "/api/v1/links", ""},
	} {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("Authorization", key)
		req.Header.Add("Authorization", "Bearer sl_someone_else")
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		if code, _, _ := problemOf(t, rec); rec.Code != http.StatusBadRequest || code != "duplicate_header" {
			t.Errorf("%s %s with two keys: %d %s, want 400 duplicate_header", tt.method, tt.path, rec.Code, rec.Body)
		}
	}
}

func problemOf(t *testing.T, rec *httptest.ResponseRecorder) (code, field, message string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Field, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	return body.Error.Code, body.Error.Field, body.Error.Message
}
