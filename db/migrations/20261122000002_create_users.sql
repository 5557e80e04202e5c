-- migrate:up
CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text,
    name text,
    is_anonymous boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_check CHECK (email IS NULL OR email LIKE '_%@_%'),
    CONSTRAINT users_anonymous_email_check CHECK (NOT (is_anonymous AND email IS NOT NULL))
);

COMMENT ON TABLE users IS 'People (or anonymous visitors) who own chat sessions, credentials and private documents.';

-- Emails are unique regardless of case.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE user_credentials (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- sha256 of the opaque random token; the token itself is never stored.
    token_hash bytea NOT NULL,
    kind text NOT NULL DEFAULT 'session',
    label text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    last_used_at timestamptz,
    CONSTRAINT user_credentials_token_hash_key UNIQUE (token_hash),
    CONSTRAINT user_credentials_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT user_credentials_kind_check CHECK (kind IN ('session', 'api')),
    CONSTRAINT user_credentials_expires_at_check CHECK (expires_at > created_at)
);

COMMENT ON TABLE user_credentials IS 'Bearer tokens that identify a user, stored only as sha256 hashes with expiry and revocation.';

-- A user's credentials (listing, revoking all, cascading deletes).
CREATE INDEX user_credentials_user_id_idx ON user_credentials (user_id, created_at DESC);
-- Retention of expired credentials.
CREATE INDEX user_credentials_expires_at_idx ON user_credentials (expires_at);

-- migrate:down
DROP TABLE user_credentials;
DROP TABLE users;
