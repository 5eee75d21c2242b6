package sqlite_test

import (
	"testing"

	"github.com/shortlinks/shortlinks/internal/report"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/store/storetest"
)

func TestReportsConformance(t *testing.T) {
	storetest.RunReports(t, func(t *testing.T) report.Store { return sqlitetest.Open(t) })
}
