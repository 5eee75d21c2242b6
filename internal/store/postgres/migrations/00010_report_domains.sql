-- +goose Up

-- A report names a link by its code and its short domain (0: the default
-- domain), since an alias may be taken on several domains. Reports made
-- before have 0, which is where every link was then. A column with a
-- constant default is added without rewriting the table; a release that
-- predates it inserts reports without it, which get 0.
ALTER TABLE reports ADD COLUMN domain_id bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE reports DROP COLUMN domain_id;
