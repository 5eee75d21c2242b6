-- +goose Up

-- reports are abuse reports about short links, sent by anyone and
-- resolved by administrators.
--
-- * code has no foreign key: a report outlives the link it names, and
--   codes are never reissued, so it names one link for ever.
-- * reason is checked by the service, not here, so that a new reason
--   needs no migration.
-- * A report is open while resolved_at is NULL. The partial index keeps
--   the admins' queue ("open, newest first") a walk of open reports only,
--   however many have been resolved; resolved ones are read by the
--   primary key.
-- * Resolving is one UPDATE ... WHERE resolved_at IS NULL, so two admins
--   resolving at once cannot both succeed.
CREATE TABLE reports (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                text NOT NULL,
    reason              text NOT NULL,
    details             text NOT NULL DEFAULT '',
    contact             text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    resolved_at         timestamptz,
    resolution_note     text,
    resolved_by_user_id bigint,
    resolved_by_key_id  bigint
);
CREATE INDEX reports_open ON reports (id) WHERE resolved_at IS NULL;
CREATE INDEX reports_code ON reports (code, id);

-- +goose Down
DROP TABLE reports;
