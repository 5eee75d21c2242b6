-- +goose NO TRANSACTION
-- +goose Up

-- Links v2: the options people set on a link, and who owns it.
--
-- Expand only: every new column is NULL or has a constant default, which
-- PostgreSQL adds without rewriting the table (a catalog change, whatever
-- its size), and a binary from before this migration keeps reading and
-- writing links during a rolling upgrade: its links get the defaults
-- (enabled, no options). NULL costs one bit, so a plain link's row grows
-- by nothing but the false of forward_query. The index is built
-- CONCURRENTLY, without blocking writes, so this file runs outside a
-- transaction; every statement can be run again after a failure.
--
-- * user_id is the account that owns the link (through any of its keys, or
--   signed in); owner_id stays the key that made it. No foreign key, like
--   owner_id: users are disabled, never deleted.
-- * rules is jsonb: an ordered list of {"when": {...}, "url": "..."} read
--   whole with the link, NULL for the many links without rules.
-- * password_hash is an argon2id PHC string.
ALTER TABLE links
    ADD COLUMN IF NOT EXISTS user_id bigint,
    ADD COLUMN IF NOT EXISTS disabled_at timestamptz,
    ADD COLUMN IF NOT EXISTS valid_from timestamptz,
    ADD COLUMN IF NOT EXISTS max_visits bigint,
    ADD COLUMN IF NOT EXISTS forward_query boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS title text,
    ADD COLUMN IF NOT EXISTS disabled_reason text,
    ADD COLUMN IF NOT EXISTS password_hash text,
    ADD COLUMN IF NOT EXISTS rules jsonb;

-- Links that a user's key made before links had owners go to that user.
-- Accounts came one release earlier, so these are few: the UPDATE walks
-- links_owner_newest for the keys that have a user.
UPDATE links SET user_id = k.user_id FROM api_keys k
    WHERE links.owner_id = k.id AND k.user_id IS NOT NULL AND links.user_id IS NULL;

-- A user's list is a range of this index, as a key's is of
-- links_owner_newest.
CREATE INDEX CONCURRENTLY IF NOT EXISTS links_user_newest ON links (user_id, created_at DESC, code DESC)
    WHERE deleted_at IS NULL AND user_id IS NOT NULL;

-- Tags live in a table of their own, not in a text[] column of links:
-- * a filter by tag is a range of link_tags_tag, then one probe of
--   links_id_key per tagged link. A GIN index on an array column finds the
--   rows too, but as a bitmap that must be sorted before the first row of a
--   newest-first page, and every write to it goes through GIN's pending
--   list;
-- * counting links per tag for a user is a GROUP BY over this table;
-- * untagged links, most of them, cost nothing, and the row the redirect
--   reads stays as it was;
-- * SQLite has the same table, so the engines' queries stay alike.
CREATE TABLE IF NOT EXISTS link_tags (
    link_id bigint NOT NULL,
    tag     text COLLATE "C" NOT NULL,
    CONSTRAINT link_tags_pkey PRIMARY KEY (link_id, tag)
);
CREATE INDEX IF NOT EXISTS link_tags_tag ON link_tags (tag, link_id);

-- +goose Down
DROP TABLE link_tags;
DROP INDEX links_user_newest;
ALTER TABLE links
    DROP COLUMN rules,
    DROP COLUMN password_hash,
    DROP COLUMN disabled_reason,
    DROP COLUMN title,
    DROP COLUMN forward_query,
    DROP COLUMN max_visits,
    DROP COLUMN valid_from,
    DROP COLUMN disabled_at,
    DROP COLUMN user_id;
