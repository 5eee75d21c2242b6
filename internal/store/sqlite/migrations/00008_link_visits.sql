-- +goose Up

-- How many redirects each link with a visit limit has made; see the
-- PostgreSQL migration of the same number. Links without a limit are
-- never written on the redirect path and keep 0.
ALTER TABLE links ADD COLUMN visits INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE links DROP COLUMN visits;
