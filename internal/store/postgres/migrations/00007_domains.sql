-- +goose NO TRANSACTION
-- +goose Up

-- Branded domains: short domains besides the default one (the base URL's
-- host, which is not stored and has id 0, so that identity values, from
-- 1, never name it). host is lower case, without port or trailing dot;
-- the fallbacks are URLs, NULL for the 404 page. A restricted domain takes
-- links only from admins and the members given it (users.domains).
CREATE TABLE IF NOT EXISTS domains (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at         timestamptz NOT NULL,
    restricted         boolean NOT NULL DEFAULT false,
    host               text COLLATE "C" NOT NULL,
    root_redirect      text,
    not_found_redirect text,
    CONSTRAINT domains_host_key UNIQUE (host),
    CONSTRAINT domains_host_lower CHECK (host <> '' AND host = lower(host))
);

-- Links gain the domain they are on, 0 for the default domain. A column
-- with a constant default is a catalog change: no rewrite, whatever the
-- table's size, and a binary from before this migration keeps inserting
-- (its links land on the default domain).
ALTER TABLE links ADD COLUMN IF NOT EXISTS domain_id bigint NOT NULL DEFAULT 0;

-- A code becomes unique per domain: the primary key moves from (code) to
-- (code, domain_id). The new index is built without blocking writes, then
-- swapped in as the primary key in one short statement. It leads with
-- code, so a lookup by code alone (a binary from before this migration,
-- during a rolling upgrade) still probes it, and the redirect's lookup by
-- code and domain is one probe as before. Generated codes stay unique
-- across domains by construction: they are permutations of ids.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS links_code_domain ON links (code, domain_id);
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_class WHERE relname = 'links_code_domain' AND relkind = 'i') THEN
        ALTER TABLE links DROP CONSTRAINT links_pkey;
        ALTER TABLE links ADD CONSTRAINT links_pkey PRIMARY KEY USING INDEX links_code_domain;
    END IF;
END
$$;
-- +goose StatementEnd

-- A branded domain's list is a range of this index; the default domain's
-- links, likely most, cost nothing in it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS links_domain_newest ON links (domain_id, created_at DESC, code DESC)
    WHERE deleted_at IS NULL AND domain_id <> 0;

-- +goose Down
DROP INDEX IF EXISTS links_domain_newest;
-- Only the default domain's links fit a key on code alone.
DELETE FROM links WHERE domain_id <> 0;
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE links DROP CONSTRAINT links_pkey;
    ALTER TABLE links ADD CONSTRAINT links_pkey PRIMARY KEY (code);
END
$$;
-- +goose StatementEnd
ALTER TABLE links DROP COLUMN domain_id;
DROP TABLE domains;
