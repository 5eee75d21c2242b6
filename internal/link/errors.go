package link

// Kind classifies an Error. Each kind maps to one HTTP status in edge.
type Kind int

// The kinds of failure a client can see.
const (
	Invalid         Kind = iota + 1 // the request breaks a rule: 400
	NotFound                        // no such link: 404
	Conflict                        // the code is taken: 409
	Gone                            // the link has expired: 410
	Unauthenticated                 // a key is missing or wrong: 401
	Unavailable                     // storage cannot take the request now: 503
	Forbidden                       // known, but not allowed to do that: 403
	TooManyRequests                 // too many attempts, retry later: 429
)

// Error is a failure the client caused, or can act on. Code is stable
// snake_case for programs, Message a sentence for people, and Field names the
// input at fault when there is one (the web page shows the message beside it).
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is match any *Error with the same Code, so a wrapped or
// field-annotated copy still matches the sentinel it came from.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func invalid(field, code, msg string) *Error {
	return &Error{Kind: Invalid, Code: code, Message: msg, Field: field}
}

// Errors that stores and the service return. Stores wrap them with context;
// callers compare with errors.Is.
var (
	ErrNotFound    = &Error{Kind: NotFound, Code: "not_found", Message: "No link has that code."}
	ErrExpired     = &Error{Kind: Gone, Code: "link_expired", Message: "This link has expired."}
	ErrCodeTaken   = &Error{Kind: Conflict, Code: "alias_taken", Message: "That alias is already taken; choose another one.", Field: "alias"}
	ErrUnavailable = &Error{Kind: Unavailable, Code: "storage_unavailable", Message: "Links cannot be stored right now; try again shortly."}
)
