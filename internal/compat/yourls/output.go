package yourls

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
)

// answer is an action's result: the HTTP status, the body as YOURLS orders
// it, and what the "simple" format prints.
type answer struct {
	status int
	body   obj
	simple string
}

// obj is an object whose keys keep their order, as PHP's arrays do.
type obj []kv

type kv struct {
	k string
	v any // string, int or obj
}

// MarshalJSON writes o as a JSON object in its own order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeXML writes o's fields as elements, nesting objects.
func (o obj) writeXML(b *bytes.Buffer) {
	for _, f := range o {
		b.WriteString("<" + f.k + ">")
		switch v := f.v.(type) {
		case obj:
			v.writeXML(b)
		case string:
			_ = xml.EscapeText(b, []byte(v))
		case int:
			b.WriteString(strconv.Itoa(v))
		default:
			_ = xml.EscapeText(b, []byte(fmt.Sprint(v)))
		}
		b.WriteString("</" + f.k + ">")
	}
}

// callbackName is what a JSONP callback may be called: a JavaScript
// identifier path, so that the answer cannot carry script of the
// requester's choosing.
var callbackName = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

// write answers in the format the request asks for: format=json, jsonp
// (with callback), xml (YOURLS' default) or simple.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, a answer) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	switch format := r.Form.Get("format"); format {
	case "json", "jsonp":
		body := a.body
		cb := r.Form.Get("callback")
		if format == "jsonp" {
			if cb == "" {
				cb = "yourls"
			}
			if !callbackName.MatchString(cb) || len(cb) > 128 {
				a, cb, format = fail(http.StatusBadRequest, "callback must be a JavaScript name"), "", "json"
				body = a.body
			} else {
				body = append(body, kv{"callback", cb})
			}
		}
		raw, err := json.Marshal(body)
		if err != nil {
			h.opts.Log.Error("yourls api: encode answer", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if format == "jsonp" {
			hd.Set("Content-Type", "application/javascript; charset=utf-8")
			w.WriteHeader(a.status)
			fmt.Fprintf(w, "%s(%s)", cb, raw)
			return
		}
		hd.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(a.status)
		_, _ = w.Write(raw)
	case "simple":
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.simple))
	default:
		var b bytes.Buffer
		b.WriteString(xml.Header)
		b.WriteString("<result>")
		a.body.writeXML(&b)
		b.WriteString("</result>\n")
		hd.Set("Content-Type", "application/xml; charset=utf-8")
		w.WriteHeader(a.status)
		_, _ = w.Write(b.Bytes())
	}
}
