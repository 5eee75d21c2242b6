-- +goose Up

-- reports are abuse reports about short links, sent by anyone and
-- resolved by administrators. code has no foreign key: a report outlives
-- the link it names, and codes are never reissued, so it names one link
-- for ever. reason is checked by the service, not here, so that a new
-- reason needs no migration. A report is open while resolved_at is NULL;
-- the partial index keeps the admins' queue ("open, newest first") a walk
-- of open reports only, however many are resolved.
CREATE TABLE reports (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    code                TEXT    NOT NULL,
    reason              TEXT    NOT NULL,
    details             TEXT    NOT NULL DEFAULT '',
    contact             TEXT    NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL, -- Unix microseconds
    resolved_at         INTEGER,          -- Unix microseconds; NULL: open
    resolution_note     TEXT,
    resolved_by_user_id INTEGER,
    resolved_by_key_id  INTEGER
);
CREATE INDEX reports_open ON reports (id) WHERE resolved_at IS NULL;
CREATE INDEX reports_code ON reports (code, id);

-- +goose Down
DROP TABLE reports;
