package sqlitesink

import (
	"context"
	"database/sql/driver"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// SetFoldLimits sets the fold's limits (see fold.go) of s for a test.
func SetFoldLimits(s *Sink, applies, rows, chunk int) {
	s.pend.foldApplies, s.pend.foldRows, s.pend.foldChunk = applies, rows, chunk
}

// Abandon releases the statements of s without folding what it holds in
// memory, as a server killed mid-fold leaves its database.
func Abandon(s *Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := s.db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		if dc == s.w.conn {
			for _, st := range s.w.stmts {
				st.(driver.Stmt).Close()
			}
		}
		s.w = writer{}
		return nil
	})
}

// PackV1 is the version 1 encoding of vs, one link's pack in a row of its
// own, as sinks wrote them before rows of many links' packs.
func PackV1(vs []analytics.Visit) []byte { return appendPack(nil, vs) }

// SetRememberedPacks bounds each generation of the links whose newest
// pack row s remembers (see recentPacks).
func SetRememberedPacks(s *Sink, links int) { s.w.recent.limit = links }

// PackRowsRead is how many links' newest pack rows s has read from
// clicks_total rather than remembered.
func PackRowsRead(s *Sink) int { return s.w.asked }
