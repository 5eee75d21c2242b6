-- +goose Up

-- A report names a link by its code and its short domain (0: the default
-- domain), since an alias may be taken on several domains. Reports made
-- before have 0, which is where every link was then.
ALTER TABLE reports ADD COLUMN domain_id INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE reports DROP COLUMN domain_id;
