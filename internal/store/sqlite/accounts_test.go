package sqlite_test

import (
	"testing"

	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/store/storetest"
)

func TestAccountsConformance(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) storetest.AccountStore {
		return sqlitetest.Open(t)
	})
}
