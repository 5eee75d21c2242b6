// Package production runs Shortlinks in its production shape (several
// instances, a PostgreSQL primary with a streaming replica, Redis) and
// checks what clients see while parts of it fail and come back, and while
// instances create links concurrently on one database.
package production
