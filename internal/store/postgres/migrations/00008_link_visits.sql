-- +goose Up

-- How many redirects each link with a visit limit has made. The redirect
-- of such a link counts with one conditional UPDATE (visits < max_visits),
-- so that instances sharing the database stop it exactly at the limit.
-- Links without a limit are never written on the redirect path; their
-- visits stay 0 (click analytics counts clicks, not this column).
--
-- Expand only: a constant default is a catalog change in PostgreSQL, with
-- no rewrite of the table, and binaries from before this migration ignore
-- the column.
ALTER TABLE links ADD COLUMN IF NOT EXISTS visits bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE links DROP COLUMN visits;
