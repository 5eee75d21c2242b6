-- +goose Up

-- Visit rows are appended in nearly the order of their time (a click is
-- written within seconds of it), so expiry walks the table in rowid order
-- and stops at the first row still inside the retention. The index on
-- visits.at that expiry used cost every click a third B-tree insert, about
-- a tenth of the in-process analytics writer's CPU (docs/performance.md).
DROP INDEX visits_at;

-- +goose Down
CREATE INDEX visits_at ON visits (at);
