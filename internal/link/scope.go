package link

import (
	"fmt"
	"math/bits"
	"strings"
)

// Scopes is a set of permissions that an API key carries. A request acts
// with the scopes of its key, narrowed to what the key's user may do.
type Scopes uint8

// The scopes a key may carry. Their names are part of the API.
const (
	ScopeLinksRead  Scopes = 1 << iota // read links and their statistics
	ScopeLinksWrite                    // create, edit, disable and delete links
	ScopeAdmin                         // act on everyone's links, keys, users, reports and the audit log

	// AllScopes is every scope there is.
	AllScopes = ScopeLinksRead | ScopeLinksWrite | ScopeAdmin
)

var scopeNames = [...]string{"links:read", "links:write", "admin"}

// Has reports whether s holds every scope in t.
func (s Scopes) Has(t Scopes) bool { return s&t == t }

// Names returns the names of the scopes in s, in a fixed order.
func (s Scopes) Names() []string {
	names := make([]string, 0, bits.OnesCount8(uint8(s)))
	for i, name := range scopeNames {
		if s&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return names
}

// String returns the names of the scopes in s separated by spaces, as
// OAuth writes scopes.
func (s Scopes) String() string { return strings.Join(s.Names(), " ") }

// ParseScopes reads scope names. Repeats are allowed; an unknown name is an
// invalid_scope error.
func ParseScopes(names []string) (Scopes, error) {
	var s Scopes
	for _, n := range names {
		found := false
		for i, name := range scopeNames {
			if n == name {
				s |= 1 << i
				found = true
				break
			}
		}
		if !found {
			return 0, invalid("scopes", "invalid_scope",
				fmt.Sprintf("%q is not a scope; the scopes are %s.", n, strings.Join(scopeNames[:], ", ")))
		}
	}
	return s, nil
}
