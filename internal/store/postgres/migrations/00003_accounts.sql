-- +goose Up

-- users are the people who sign in to manage links.
--
-- * Emails are stored as the service normalises them (lower case, the
--   domain in ASCII). The unique index on lower(email) is the database's
--   own guarantee that two spellings of an address cannot both exist,
--   whoever writes the row; lookups use it. citext would do the same but
--   needs an extension that a managed server may not allow.
-- * password_hash is an argon2id PHC string, which names its own
--   parameters, so raising them later needs no migration.
-- * session_epoch grows by one whenever all the user's sessions are ended;
--   a session that began under another value is void.
-- * domains are the branded domains a member may use: a text array, read
--   whole with the user.
-- * Users are disabled, never deleted, so that the audit log and keys keep
--   naming someone.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at    timestamptz NOT NULL,
    disabled_at   timestamptz,
    session_epoch bigint NOT NULL DEFAULT 0,
    role          text NOT NULL CHECK (role IN ('admin', 'member')),
    email         text NOT NULL CHECK (email <> ''),
    password_hash text NOT NULL,
    domains       text[] NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- sessions keeps the dashboard's server-side sessions, in the layout the
-- scs session manager's stores use (token, data, expiry) and one more
-- column: the signed-in user, indexed, so that every session of a user is
-- found without reading the others. token is the SHA-256 of the cookie's
-- token: this table alone signs nobody in.
CREATE TABLE sessions (
    token   text PRIMARY KEY,
    expiry  timestamptz NOT NULL,
    user_id bigint REFERENCES users (id) ON DELETE CASCADE,
    data    bytea NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry);
CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id IS NOT NULL;

-- API keys gain an owner, an expiry and scopes. Every existing key stays
-- an ownerless service key (user_id NULL) with the scopes its admin flag
-- implied. A key inserted by the previous release has NULL scopes, which
-- the service reads the same way, so that release keeps working against
-- this schema; for it, admin stays set on ownerless admin keys.
ALTER TABLE api_keys
    ADD COLUMN user_id bigint REFERENCES users (id),
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN scopes text[];
UPDATE api_keys SET scopes = CASE WHEN admin THEN ARRAY['links:read', 'links:write', 'admin']
                                  ELSE ARRAY['links:read', 'links:write'] END;
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE user_id IS NOT NULL;

-- audit_log records who did what to which object. Entries are only ever
-- appended; ids grow with time, so the newest-first listing and its
-- keyset pages walk the primary key backwards. Actors have no foreign
-- keys: an entry outlives anything it names. target_id is text, so that
-- any kind of object can be named. Actions compare byte by byte (COLLATE
-- "C"), so that a family ("user.") is a range of the action index.
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor_user_id bigint,
    actor_key_id  bigint,
    action        text COLLATE "C" NOT NULL,
    target_type   text NOT NULL,
    target_id     text NOT NULL DEFAULT '',
    detail        jsonb
);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_actor_user ON audit_log (actor_user_id, id) WHERE actor_user_id IS NOT NULL;
CREATE INDEX audit_log_action ON audit_log (action, id);

-- +goose Down
DROP TABLE audit_log;
DROP INDEX api_keys_user;
ALTER TABLE api_keys DROP COLUMN scopes, DROP COLUMN expires_at, DROP COLUMN user_id;
DROP TABLE sessions;
DROP TABLE users;
