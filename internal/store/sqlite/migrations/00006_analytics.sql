-- +goose Up

-- Click analytics for the embedded engine; the same tables as on
-- PostgreSQL (see its migration for the reasoning), with times as integers:
-- hour and day in unix seconds (UTC), last_click and visits.at in unix
-- microseconds. WITHOUT ROWID stores each rollup row once, in its primary
-- key's B-tree, rather than in a table plus an index.

CREATE TABLE clicks_hourly (
    link_id INTEGER NOT NULL,
    hour    INTEGER NOT NULL,
    humans  INTEGER NOT NULL,
    bots    INTEGER NOT NULL,
    PRIMARY KEY (link_id, hour)
) WITHOUT ROWID;

CREATE TABLE clicks_daily (
    link_id INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    dim     INTEGER NOT NULL,
    value   TEXT    NOT NULL,
    humans  INTEGER NOT NULL,
    bots    INTEGER NOT NULL,
    PRIMARY KEY (link_id, day, dim, value)
) WITHOUT ROWID;

CREATE TABLE clicks_total (
    link_id    INTEGER PRIMARY KEY,
    humans     INTEGER NOT NULL,
    bots       INTEGER NOT NULL,
    last_click INTEGER NOT NULL
);

CREATE TABLE orphan_visits_hourly (
    domain_id INTEGER NOT NULL,
    kind      INTEGER NOT NULL,
    hour      INTEGER NOT NULL,
    visits    INTEGER NOT NULL,
    PRIMARY KEY (domain_id, kind, hour)
) WITHOUT ROWID;

CREATE TABLE user_agents (
    hash    INTEGER PRIMARY KEY,
    bot     INTEGER NOT NULL,
    browser TEXT    NOT NULL,
    os      TEXT    NOT NULL,
    device  TEXT    NOT NULL,
    value   TEXT    NOT NULL
);

-- Individual visits; expiry deletes by time, oldest first, in chunks.
CREATE TABLE visits (
    at       INTEGER NOT NULL,
    link_id  INTEGER NOT NULL,
    ua       INTEGER,
    bot      INTEGER NOT NULL,
    addr     TEXT,
    country  TEXT    NOT NULL,
    language TEXT    NOT NULL,
    referrer TEXT    NOT NULL
);
CREATE INDEX visits_link_at ON visits (link_id, at);
CREATE INDEX visits_at ON visits (at);

CREATE TABLE analytics_batches (
    producer   INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (producer, seq)
) WITHOUT ROWID;
CREATE INDEX analytics_batches_applied_at ON analytics_batches (applied_at);

-- +goose Down
DROP TABLE analytics_batches;
DROP TABLE visits;
DROP TABLE user_agents;
DROP TABLE orphan_visits_hourly;
DROP TABLE clicks_total;
DROP TABLE clicks_daily;
DROP TABLE clicks_hourly;
