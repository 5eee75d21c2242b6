package transfer

import (
	"fmt"
	"net/url"
	"strconv"
)

// A token is a resume position: a few named values, encoded as a URL query
// so that it is one printable string a command can store and show.
type token struct {
	url.Values
}

func newToken(kind string, read int64) token {
	t := token{url.Values{}}
	t.Set("src", kind)
	t.setInt("read", read)
	return t
}

func (t token) setInt(k string, v int64) { t.Set(k, strconv.FormatInt(v, 10)) }

func (t token) String() string { return t.Encode() }

// parseToken decodes s, checking that a source of this kind made it.
func parseToken(kind, s string) (token, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return token{}, fmt.Errorf("%w: %v", ErrResume, err)
	}
	if got := v.Get("src"); got != kind {
		return token{}, fmt.Errorf("%w: it was made by a %q source, not %q", ErrResume, got, kind)
	}
	t := token{v}
	if _, err := t.int("read"); err != nil {
		return token{}, err
	}
	return t, nil
}

// int returns the value of k, which must be a non-negative integer.
func (t token) int(k string) (int64, error) {
	n, err := strconv.ParseInt(t.Get(k), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s is %q, not a count", ErrResume, k, t.Get(k))
	}
	return n, nil
}

// ints returns the values of several keys, stopping at the first bad one.
func (t token) ints(keys ...string) ([]int64, error) {
	out := make([]int64, len(keys))
	for i, k := range keys {
		n, err := t.int(k)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}
