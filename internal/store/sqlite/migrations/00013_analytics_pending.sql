-- +goose Up

-- The click writer's log of hourly and daily increments not yet folded
-- into clicks_hourly and clicks_daily: one row per write, its increments
-- encoded (internal/analytics/sqlitesink/pending.go). The server keeps
-- their sum in memory and folds it into the tables every few dozen writes,
-- so that a link clicked in many writes costs one row per table, not one
-- per write; on start it reads the log back.
CREATE TABLE analytics_pending (
    id   INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);

-- A fold under way: the log rows up to upto are being folded, and their
-- counts of links below next are in the tables already.
CREATE TABLE analytics_fold (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL,
    next INTEGER NOT NULL
);

-- +goose Down
-- Only SQLite's writer can read the log: the server folds it when it
-- stops, so a database left with rows in it (the server was killed) must
-- be started and stopped once before going down, or those counts would
-- be lost. The CHECK refuses that.
CREATE TEMP TABLE analytics_pending_left (n INTEGER CHECK (n = 0));
INSERT INTO analytics_pending_left SELECT count(*) FROM analytics_pending;
DROP TABLE analytics_pending_left;
DROP TABLE analytics_fold;
DROP TABLE analytics_pending;
