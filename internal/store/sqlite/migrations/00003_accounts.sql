-- +goose Up

-- users are the people who sign in to manage links. Emails are stored as
-- the service normalises them (lower case, the domain in ASCII); NOCASE
-- makes the unique index refuse another spelling of one address whoever
-- writes the row. password_hash is an argon2id PHC string. session_epoch
-- grows by one whenever all the user's sessions are ended. domains is a
-- JSON array of the branded domains a member may use. Users are disabled,
-- never deleted; AUTOINCREMENT never reuses an id the audit log names.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL COLLATE NOCASE UNIQUE CHECK (email <> ''),
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    domains       TEXT    NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL, -- Unix microseconds
    disabled_at   INTEGER,          -- Unix microseconds; NULL: active
    session_epoch INTEGER NOT NULL DEFAULT 0
);

-- sessions keeps the dashboard's server-side sessions: scs's layout
-- (token, data, expiry) and the signed-in user, indexed, so that every
-- session of a user is found without reading the others. token is the
-- SHA-256 of the cookie's token.
CREATE TABLE sessions (
    token   TEXT    PRIMARY KEY,
    data    BLOB    NOT NULL,
    expiry  INTEGER NOT NULL, -- Unix microseconds
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX sessions_expiry ON sessions (expiry);
CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id IS NOT NULL;

-- API keys gain an owner, an expiry and scopes (space-separated names).
-- Existing keys stay ownerless service keys with the scopes their admin
-- flag implied; a key inserted by the previous release has NULL scopes,
-- which the service reads the same way.
ALTER TABLE api_keys ADD COLUMN user_id INTEGER REFERENCES users (id);
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN scopes TEXT;
UPDATE api_keys SET scopes = CASE WHEN admin THEN 'links:read links:write admin' ELSE 'links:read links:write' END;
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE user_id IS NOT NULL;

-- audit_log records who did what to which object, appended only; the
-- newest-first listing walks the id backwards. detail is JSON.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL, -- Unix microseconds
    actor_user_id INTEGER,
    actor_key_id  INTEGER,
    action        TEXT    NOT NULL,
    target_type   TEXT    NOT NULL,
    target_id     TEXT    NOT NULL DEFAULT '',
    detail        TEXT
);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_actor_user ON audit_log (actor_user_id, id) WHERE actor_user_id IS NOT NULL;
CREATE INDEX audit_log_action ON audit_log (action, id);

-- +goose Down
DROP TABLE audit_log;
DROP INDEX api_keys_user;
ALTER TABLE api_keys DROP COLUMN scopes;
ALTER TABLE api_keys DROP COLUMN expires_at;
ALTER TABLE api_keys DROP COLUMN user_id;
DROP TABLE sessions;
DROP TABLE users;
