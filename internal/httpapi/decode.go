package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
)

// checkKeys holds a JSON object body to what encoding/json lets through:
// that package matches keys to fields ignoring case and lets the last of
// two equal keys win, so {"url":"good","URL":"evil"} would store "evil"
// while a proxy or log that reads the first "url" sees "good". Every key of
// the top-level object must be one of v's field names exactly, and no
// object anywhere in the body may repeat a key. A body that is not valid
// JSON, or not an object, passes: decoding it reports that.
func checkKeys(body []byte, v any) error {
	fields := jsonFields(reflect.TypeOf(v))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// One set of keys seen per open object; nil for an open array.
	var open []map[string]struct{}
	expectKey := false // the next string token is an object key
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or a syntax error that decoding reports
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				open = append(open, map[string]struct{}{})
				expectKey = true
				continue
			case '[':
				open = append(open, nil)
			case '}', ']':
				open = open[:len(open)-1]
			}
		case string:
			if expectKey {
				seen := open[len(open)-1]
				if _, dup := seen[t]; dup {
					e := problem(http.StatusBadRequest, "duplicate_field",
						fmt.Sprintf("The field %q appears twice; send each field once.", t))
					e.Field = t
					return e
				}
				seen[t] = struct{}{}
				if len(open) == 1 && fields != nil {
					if err := exactField(fields, t); err != nil {
						return err
					}
				}
				expectKey = false
				continue
			}
		}
		// After a value, an object's next token is a key again.
		expectKey = len(open) > 0 && open[len(open)-1] != nil
	}
}

// exactField refuses name unless it is one of fields, spelled exactly.
func exactField(fields []string, name string) error {
	for _, f := range fields {
		if f == name {
			return nil
		}
	}
	msg := fmt.Sprintf("The field %q is not part of this request; remove it.", name)
	for _, f := range fields {
		if strings.EqualFold(f, name) {
			msg = fmt.Sprintf("The field %q is not part of this request: field names are case-sensitive; did you mean %q?", name, f)
		}
	}
	e := problem(http.StatusBadRequest, "unknown_field", msg)
	e.Field = name
	return e
}

// jsonFields lists the JSON names of the fields of the struct t points to,
// or returns nil for any other type.
func jsonFields(t reflect.Type) []string {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	t = t.Elem()
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}
