-- +goose Up

-- Links v2: the options people set on a link, and who owns it. Expand only:
-- every new column is NULL or has a default, so a binary from before this
-- migration keeps reading and writing links during a rolling upgrade (its
-- links get the defaults: enabled, no options).
--
-- * user_id is the account that owns the link (any of its keys, or the
--   user signed in); owner_id stays the key that made it. Links made by a
--   user's key before this migration are given to that user.
-- * Times are Unix microseconds, as in 00001. rules is JSON text: an
--   ordered list of {"when": {...}, "url": "..."}, read whole with the
--   link; NULL for the many links without rules.
ALTER TABLE links ADD COLUMN user_id INTEGER;
ALTER TABLE links ADD COLUMN title TEXT;
ALTER TABLE links ADD COLUMN disabled_at INTEGER;
ALTER TABLE links ADD COLUMN disabled_reason TEXT;
ALTER TABLE links ADD COLUMN valid_from INTEGER;
ALTER TABLE links ADD COLUMN max_visits INTEGER;
ALTER TABLE links ADD COLUMN password_hash TEXT;
ALTER TABLE links ADD COLUMN forward_query INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN rules TEXT;

UPDATE links SET user_id = (SELECT k.user_id FROM api_keys k WHERE k.id = links.owner_id)
    WHERE owner_id IS NOT NULL;

-- A user's list is a range of this index, as a key's is of
-- links_owner_newest.
CREATE INDEX links_user_newest ON links (user_id, created_at DESC, code DESC)
    WHERE deleted_at IS NULL AND user_id IS NOT NULL;

-- Tags live in a table of their own rather than in a column of links: a
-- filter by tag is a range of link_tags_tag however many links there are,
-- counting links per tag is a GROUP BY over it, and untagged links (most)
-- cost nothing and keep the redirect's row as it was. The same shape on
-- PostgreSQL keeps the engines' queries alike.
CREATE TABLE link_tags (
    link_id INTEGER NOT NULL,
    tag     TEXT    NOT NULL,
    PRIMARY KEY (link_id, tag)
) WITHOUT ROWID;
CREATE INDEX link_tags_tag ON link_tags (tag, link_id);

-- +goose Down
DROP TABLE link_tags;
DROP INDEX links_user_newest;
ALTER TABLE links DROP COLUMN rules;
ALTER TABLE links DROP COLUMN forward_query;
ALTER TABLE links DROP COLUMN password_hash;
ALTER TABLE links DROP COLUMN max_visits;
ALTER TABLE links DROP COLUMN valid_from;
ALTER TABLE links DROP COLUMN disabled_reason;
ALTER TABLE links DROP COLUMN disabled_at;
ALTER TABLE links DROP COLUMN title;
ALTER TABLE links DROP COLUMN user_id;
