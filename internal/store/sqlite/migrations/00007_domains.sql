-- +goose Up

-- Branded domains: short domains besides the default one (the base URL's
-- host, which is not stored and has id 0). host is stored lower case,
-- without port or trailing dot; the fallbacks are URLs or NULL (the 404
-- page). A restricted domain takes links only from admins and from the
-- members given it (users.domains).
CREATE TABLE domains (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    host               TEXT    NOT NULL UNIQUE CHECK (host <> '' AND host = lower(host)),
    root_redirect      TEXT,
    not_found_redirect TEXT,
    restricted         INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL -- Unix microseconds
);

-- Links gain the domain they are on (0: the default domain), and a code is
-- unique per domain rather than across them: an alias may be taken on two
-- domains by two links. Generated codes stay unique across every domain by
-- construction (they are permutations of ids). SQLite cannot drop the
-- column constraint "code UNIQUE", so the table is rebuilt with the same
-- columns, rows and ids, and its indexes made again. The unique index
-- leads with code, so a lookup by code alone (a binary from before this
-- migration) still probes it.
CREATE TABLE links_new (
    id              INTEGER PRIMARY KEY,
    code            TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    owner_id        INTEGER,
    deleted_at      INTEGER,
    user_id         INTEGER,
    title           TEXT,
    disabled_at     INTEGER,
    disabled_reason TEXT,
    valid_from      INTEGER,
    max_visits      INTEGER,
    password_hash   TEXT,
    forward_query   INTEGER NOT NULL DEFAULT 0,
    rules           TEXT,
    domain_id       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (code, domain_id)
);
INSERT INTO links_new (id, code, url, created_at, expires_at, owner_id, deleted_at, user_id, title, disabled_at,
        disabled_reason, valid_from, max_visits, password_hash, forward_query, rules)
    SELECT id, code, url, created_at, expires_at, owner_id, deleted_at, user_id, title, disabled_at,
        disabled_reason, valid_from, max_visits, password_hash, forward_query, rules FROM links;
DROP TABLE links;
ALTER TABLE links_new RENAME TO links;
CREATE INDEX links_newest ON links (created_at DESC, code DESC) WHERE deleted_at IS NULL;
CREATE INDEX links_owner_newest ON links (owner_id, created_at DESC, code DESC) WHERE deleted_at IS NULL;
CREATE INDEX links_user_newest ON links (user_id, created_at DESC, code DESC)
    WHERE deleted_at IS NULL AND user_id IS NOT NULL;
-- A domain's list is a range of this index; the default domain's links,
-- likely most, cost nothing in it.
CREATE INDEX links_domain_newest ON links (domain_id, created_at DESC, code DESC)
    WHERE deleted_at IS NULL AND domain_id <> 0;

-- +goose Down
DROP INDEX links_domain_newest;
CREATE TABLE links_old (
    id              INTEGER PRIMARY KEY,
    code            TEXT    NOT NULL UNIQUE,
    url             TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    owner_id        INTEGER,
    deleted_at      INTEGER,
    user_id         INTEGER,
    title           TEXT,
    disabled_at     INTEGER,
    disabled_reason TEXT,
    valid_from      INTEGER,
    max_visits      INTEGER,
    password_hash   TEXT,
    forward_query   INTEGER NOT NULL DEFAULT 0,
    rules           TEXT
);
-- Only the default domain's links fit the old schema.
INSERT INTO links_old (id, code, url, created_at, expires_at, owner_id, deleted_at, user_id, title, disabled_at,
        disabled_reason, valid_from, max_visits, password_hash, forward_query, rules)
    SELECT id, code, url, created_at, expires_at, owner_id, deleted_at, user_id, title, disabled_at,
        disabled_reason, valid_from, max_visits, password_hash, forward_query, rules FROM links WHERE domain_id = 0;
DROP TABLE links;
ALTER TABLE links_old RENAME TO links;
CREATE INDEX links_newest ON links (created_at DESC, code DESC) WHERE deleted_at IS NULL;
CREATE INDEX links_owner_newest ON links (owner_id, created_at DESC, code DESC) WHERE deleted_at IS NULL;
CREATE INDEX links_user_newest ON links (user_id, created_at DESC, code DESC)
    WHERE deleted_at IS NULL AND user_id IS NOT NULL;
DROP TABLE domains;
