-- +goose Up

-- Click analytics, sized for a billion links and ten billion clicks a
-- month. Links are named by link_id with no foreign key: rollups outlive
-- deleted links, and a key check on every upsert would cost a probe of the
-- links table for nothing. Columns are ordered by alignment (8-byte, then
-- 4, then 2, then variable-length) so rows carry no padding. Counts within
-- an hour or a day of one link fit an integer; totals are bigint.
--
-- Rollup rows are updated in place many times (every batch that has a
-- click for them). fillfactor 80 leaves room in each page for the new row
-- version, so that updates are HOT (heap-only: no new index entry) and the
-- old version is pruned from the page without waiting for VACUUM.

-- Clicks per link per UTC hour, people and bots apart: the time series of
-- the stats API (hours, or days by summing 24 rows).
CREATE TABLE clicks_hourly (
    link_id bigint      NOT NULL,
    hour    timestamptz NOT NULL,
    humans  integer     NOT NULL,
    bots    integer     NOT NULL,
    CONSTRAINT clicks_hourly_pkey PRIMARY KEY (link_id, hour)
) WITH (fillfactor = 80);

-- Clicks per link per UTC day per value of one dimension: 1 referrer host,
-- 2 country, 3 browser, 4 OS, 5 device. "" is "none" or "unknown";
-- "(other)" gathers the values beyond a hundred per batch, link and day.
CREATE TABLE clicks_daily (
    link_id bigint   NOT NULL,
    day     date     NOT NULL,
    humans  integer  NOT NULL,
    bots    integer  NOT NULL,
    dim     smallint NOT NULL,
    value   text COLLATE "C" NOT NULL,
    CONSTRAINT clicks_daily_pkey PRIMARY KEY (link_id, day, dim, value)
) WITH (fillfactor = 80);

-- Each link's clicks of all time, for link listings.
CREATE TABLE clicks_total (
    link_id    bigint      NOT NULL,
    humans     bigint      NOT NULL,
    bots       bigint      NOT NULL,
    last_click timestamptz NOT NULL,
    CONSTRAINT clicks_total_pkey PRIMARY KEY (link_id)
) WITH (fillfactor = 80);

-- Visits that found no link, by domain, kind (1 unknown code, 2 disabled,
-- 3 expired, 4 bare domain, 5 other 404) and hour.
CREATE TABLE orphan_visits_hourly (
    domain_id bigint      NOT NULL,
    hour      timestamptz NOT NULL,
    visits    bigint      NOT NULL,
    kind      smallint    NOT NULL,
    CONSTRAINT orphan_visits_hourly_pkey PRIMARY KEY (domain_id, kind, hour)
) WITH (fillfactor = 80);

-- Every User-Agent seen, once, cut to 256 bytes, with what it parsed to.
-- Visits refer to it by hash (64-bit FNV-1a of the value) instead of
-- carrying 100-250 bytes each; real traffic has few distinct values.
CREATE TABLE user_agents (
    hash    bigint  NOT NULL,
    bot     boolean NOT NULL,
    browser text    NOT NULL,
    os      text    NOT NULL,
    device  text    NOT NULL,
    value   text    NOT NULL,
    CONSTRAINT user_agents_pkey PRIMARY KEY (hash)
);

-- Individual visits, kept for a configurable number of days. Partitioned by
-- UTC day (visits_YYYYMMDD, created by the writer ahead of need), so that
-- expiry drops whole partitions instead of deleting rows. addr is the
-- anonymized address (IPv4 /24, IPv6 /48), never the raw one; ua is
-- user_agents.hash.
CREATE TABLE visits (
    at       timestamptz NOT NULL,
    link_id  bigint      NOT NULL,
    ua       bigint,
    bot      boolean     NOT NULL,
    addr     inet,
    country  text COLLATE "C" NOT NULL,
    language text COLLATE "C" NOT NULL,
    referrer text COLLATE "C" NOT NULL
) PARTITION BY RANGE (at);

-- "Last visits of a link" and per-link visit listings: newest first.
CREATE INDEX visits_link_at ON visits (link_id, at DESC);

-- The batches already applied, written in the same transaction as their
-- counts: a batch met again (redelivered by the stream, retried after an
-- unclear failure, or claimed by a second worker) is skipped. Rows older
-- than the longest a batch can wait unacknowledged are deleted.
CREATE TABLE analytics_batches (
    producer   bigint      NOT NULL,
    seq        bigint      NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT analytics_batches_pkey PRIMARY KEY (producer, seq)
);
CREATE INDEX analytics_batches_applied_at ON analytics_batches (applied_at);

-- +goose Down
DROP TABLE analytics_batches;
DROP TABLE visits;
DROP TABLE user_agents;
DROP TABLE orphan_visits_hourly;
DROP TABLE clicks_total;
DROP TABLE clicks_daily;
DROP TABLE clicks_hourly;
