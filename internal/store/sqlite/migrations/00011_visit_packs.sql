-- +goose Up

-- The in-process analytics writer stores the visits of one link from one
-- write as one row (sqlitesink's pack encoding) instead of a row each: a
-- row per visit cost an insert into the table and one into the link's
-- index, and under load nearly every page of that index was rewritten
-- every second (docs/performance.md). Visits written before stay in
-- visits, which is read beside the packs until expiry has emptied it.
CREATE TABLE visit_packs (
    link_id INTEGER NOT NULL,
    last_at INTEGER NOT NULL, -- the newest visit's time, unix microseconds
    visits  INTEGER NOT NULL,
    data    BLOB    NOT NULL
);
CREATE INDEX visit_packs_link ON visit_packs (link_id, last_at);

-- +goose Down
DROP TABLE visit_packs;
