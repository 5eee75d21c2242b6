package sqlite

import (
	"reflect"
	"testing"
)

// TestAnalyticsByTimeMigration checks that migration 00012 keeps every
// count, keys the counts by time first, chains each link's visit packs
// from its total to its oldest, and can be rolled back and applied again.
func TestAnalyticsByTimeMigration(t *testing.T) {
	db, p := migratedTo(t, 11)
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.write.ExecContext(t.Context(), query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	const h1, h2 = 1_700_000_000 / 3600 * 3600, 1_700_000_000/3600*3600 + 3600
	exec(`INSERT INTO clicks_hourly (link_id, hour, humans, bots) VALUES (2, ?, 1, 0), (1, ?, 2, 1), (1, ?, 3, 0)`, h1, h2, h1)
	exec(`INSERT INTO clicks_daily (link_id, day, dim, value, humans, bots) VALUES
		(2, 86400, 3, 'Chrome', 1, 0), (1, 172800, 3, 'Firefox', 2, 1), (1, 86400, 3, 'Chrome', 3, 0)`)
	exec(`INSERT INTO clicks_total (link_id, humans, bots, last_click) VALUES (1, 5, 1, 10), (2, 1, 0, 20), (3, 7, 0, 0)`)
	// Link 1's packs are rowids 1, 3 and 4; link 2's is 2; link 3 has none.
	exec(`INSERT INTO visit_packs (link_id, last_at, visits, data) VALUES
		(1, 100, 1, x'01'), (2, 150, 1, x'02'), (1, 200, 1, x'03'), (1, 300, 1, x'04')`)

	type count struct{ link, at, humans, bots int64 }
	counts := func(query string) []count {
		t.Helper()
		rows, err := db.read.QueryContext(t.Context(), query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []count
		for rows.Next() {
			var c count
			if err := rows.Scan(&c.link, &c.at, &c.humans, &c.bots); err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		return out
	}
	// A table read whole comes in the order of its key.
	hourly := func() []count { return counts(`SELECT link_id, hour, humans, bots FROM clicks_hourly`) }
	daily := func() []count { return counts(`SELECT link_id, day, humans, bots FROM clicks_daily`) }
	byLink := struct{ hourly, daily []count }{
		[]count{{1, h1, 3, 0}, {1, h2, 2, 1}, {2, h1, 1, 0}},
		[]count{{1, 86400, 3, 0}, {1, 172800, 2, 1}, {2, 86400, 1, 0}},
	}
	byTime := struct{ hourly, daily []count }{
		[]count{{1, h1, 3, 0}, {2, h1, 1, 0}, {1, h2, 2, 1}},
		[]count{{1, 86400, 3, 0}, {2, 86400, 1, 0}, {1, 172800, 2, 1}},
	}
	if got := hourly(); !reflect.DeepEqual(got, byLink.hourly) {
		t.Fatalf("hourly counts before: %v", got)
	}

	for _, step := range []string{"up", "down", "up again"} {
		switch step {
		case "down":
			if _, err := p.DownTo(t.Context(), 11); err != nil {
				t.Fatal(err)
			}
		default:
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		want := byTime
		if step == "down" {
			want = byLink
		}
		if got := hourly(); !reflect.DeepEqual(got, want.hourly) {
			t.Errorf("%s: hourly counts %v, want %v", step, got, want.hourly)
		}
		if got := daily(); !reflect.DeepEqual(got, want.daily) {
			t.Errorf("%s: daily counts %v, want %v", step, got, want.daily)
		}
		if step == "down" {
			var n int
			if err := db.read.QueryRowContext(t.Context(),
				`SELECT count(*) FROM pragma_table_info('visit_packs') WHERE name = 'prev'`).Scan(&n); err != nil || n != 0 {
				t.Errorf("down: visit_packs.prev still there (%d, %v)", n, err)
			}
			continue
		}
		// Each link's chain, newest first, as its total and the packs name it.
		chains := map[int64][]int64{}
		for link := int64(1); link <= 3; link++ {
			var next *int64
			if err := db.read.QueryRowContext(t.Context(), `SELECT last_pack FROM clicks_total WHERE link_id = ?`, link).Scan(&next); err != nil {
				t.Fatal(err)
			}
			for next != nil && len(chains[link]) < 10 {
				chains[link] = append(chains[link], *next)
				var owner int64
				if err := db.read.QueryRowContext(t.Context(), `SELECT link_id, prev FROM visit_packs WHERE rowid = ?`, *next).Scan(&owner, &next); err != nil {
					t.Fatal(err)
				}
				if owner != link {
					t.Errorf("%s: link %d's chain reaches pack %d of link %d", step, link, chains[link][len(chains[link])-1], owner)
				}
			}
		}
		if want := map[int64][]int64{1: {4, 3, 1}, 2: {2}}; !reflect.DeepEqual(chains, want) {
			t.Errorf("%s: chains of packs %v, want %v", step, chains, want)
		}
	}
}

// TestAnalyticsPendingMigration: going below 13 is refused while the click
// writer's log holds increments that only it can fold into the counts.
func TestAnalyticsPendingMigration(t *testing.T) {
	db, p := migratedTo(t, 13)
	tables := func() int {
		var n int
		if err := db.read.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema
			WHERE name IN ('analytics_pending', 'analytics_fold')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := db.write.ExecContext(t.Context(), `INSERT INTO analytics_pending (id, data) VALUES (1, x'01')`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(t.Context(), 12); err == nil {
		t.Fatal("down with a pending increment left succeeded")
	}
	if n := tables(); n != 2 {
		t.Fatalf("after the refused down, %d of the 2 tables are left", n)
	}
	if _, err := db.write.ExecContext(t.Context(), `DELETE FROM analytics_pending`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(t.Context(), 12); err != nil {
		t.Fatalf("down with an empty log: %v", err)
	}
	if n := tables(); n != 0 {
		t.Fatalf("after down, %d of the 2 tables are left", n)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
}
