-- +goose Up
-- Codes are compared byte for byte (BINARY collation), so aliases are
-- case-sensitive. A deleted link keeps its row, without its URL, so that its
-- code is never issued again.
CREATE TABLE links (
    id         INTEGER PRIMARY KEY,
    code       TEXT    NOT NULL UNIQUE,
    url        TEXT    NOT NULL,
    created_at INTEGER NOT NULL, -- Unix microseconds
    expires_at INTEGER,          -- Unix microseconds; NULL: never
    owner_id   INTEGER,          -- api_keys.id; NULL: anonymous
    deleted_at INTEGER
);
CREATE INDEX links_newest ON links (created_at DESC, code DESC) WHERE deleted_at IS NULL;
CREATE INDEX links_owner_newest ON links (owner_id, created_at DESC, code DESC) WHERE deleted_at IS NULL;

-- The durable id counter behind generated codes. next only grows.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    next INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, next) VALUES ('link_id', 1);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- AUTOINCREMENT: a revoked key's id is never reused, since links name it.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    admin      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE settings;
DROP TABLE counters;
DROP TABLE links;
