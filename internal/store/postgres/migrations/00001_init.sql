-- +goose Up

-- links holds one row for every code ever issued, sized for a billion rows.
--
-- * The code is the primary key, so resolving a code is one probe of one
--   B-tree (about four levels at a billion rows, the upper ones always in
--   memory) and one heap page. There is no surrogate id: generated codes are
--   permutations of ids, and nothing looks a link up by id, so an id column
--   would only add 8 bytes to every row and a second unique index.
-- * COLLATE "C" compares codes byte by byte: aliases are case-sensitive,
--   comparisons are plain memcmp (no locale rules on the hot path), and the
--   order cannot change under an operating-system locale upgrade.
-- * Columns are ordered by alignment (8-byte fields first, variable-length
--   text last) so no padding is wasted. NULLs cost one bit: an anonymous,
--   never-expiring, live link stores only created_at, code and url.
-- * Times are timestamptz: 8 bytes, microsecond precision, one instant
--   whatever the session's time zone.
-- * owner_id is the api_keys id that made the link, NULL when anonymous. It
--   has no foreign key: keys are never deleted (revoking keeps the row), and
--   bulk seeding may name owners that this database has not issued.
-- * A deleted link keeps its row, without its URL, so its code is never
--   issued again; the check keeps url and deleted_at in step.
CREATE TABLE links (
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    deleted_at timestamptz,
    owner_id   bigint,
    code       text COLLATE "C" NOT NULL,
    url        text,
    CONSTRAINT links_pkey PRIMARY KEY (code),
    CONSTRAINT links_url_until_deleted CHECK ((url IS NULL) = (deleted_at IS NOT NULL))
);

-- Listing is newest first with a (created_at, code) keyset cursor, so each
-- page is a range scan of one of these indexes that stops after LIMIT rows,
-- however deep the page. Both are partial: deleted links are never listed,
-- and anonymous links, likely most of them, cost nothing in the owner index.
-- New rows land at the right-hand edge of links_newest (created_at only
-- grows), where inserts touch a page that is already cached.
CREATE INDEX links_owner_newest ON links (owner_id, created_at DESC, code DESC)
    WHERE deleted_at IS NULL AND owner_id IS NOT NULL;
CREATE INDEX links_newest ON links (created_at DESC, code DESC)
    WHERE deleted_at IS NULL;

-- link_ids numbers generated codes. Each nextval hands out a whole block of
-- 1000 ids, the size the service reserves at a time, so an instance calls it
-- once per 1000 generated links and instances never coordinate beyond it.
-- A sequence rather than a counter row: nextval takes no row lock, leaves
-- no dead tuples and does not wait for other transactions. CACHE 1, because
-- values cached by one session could fall inside a range that
-- reserve_link_ids has handed to another. Ids are never reused; a block
-- lost to a crash is only a gap.
CREATE SEQUENCE link_ids AS bigint INCREMENT BY 1000 MINVALUE 1 START WITH 1 CACHE 1 NO CYCLE;

-- reserve_link_ids(n) reserves n consecutive ids and returns the first.
-- Up to one block takes one nextval. A larger reservation needs several
-- blocks in a row: it takes an advisory lock exclusively, draws the first
-- block and moves the sequence past the rest with setval. Ordinary
-- reservations hold the same lock in shared mode, which never blocks
-- another shared holder, so they only wait while a large one is running and
-- can never draw a block from the middle of its range.
-- +goose StatementBegin
CREATE FUNCTION reserve_link_ids(n bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    -- An arbitrary key naming this lock: the bytes of 'shortlnk'.
    lock_key constant bigint := x'73686f72746c6e6b'::bigint;
    step  bigint;
    first bigint;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'reserve_link_ids: n must be at least 1, not %', n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT seqincrement INTO STRICT step FROM pg_catalog.pg_sequence WHERE seqrelid = 'link_ids'::regclass;
    IF n <= step THEN
        PERFORM pg_advisory_xact_lock_shared(lock_key);
        RETURN nextval('link_ids');
    END IF;
    PERFORM pg_advisory_xact_lock(lock_key);
    first := nextval('link_ids');
    -- The last block of the range starts here; the next nextval returns
    -- the block after it.
    PERFORM setval('link_ids', first + (n - 1) / step * step);
    RETURN first;
END
$$;
-- +goose StatementEnd

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);

-- An identity column never hands out an id twice, so a revoked key's id,
-- which links name as their owner, is never reused.
CREATE TABLE api_keys (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    admin      boolean NOT NULL DEFAULT false,
    name       text NOT NULL,
    prefix     text NOT NULL,
    hash       bytea NOT NULL UNIQUE
);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE settings;
DROP FUNCTION reserve_link_ids(bigint);
DROP SEQUENCE link_ids;
DROP TABLE links;
