-- migrate:up
-- Why: users known by an identity from elsewhere: a front end's forwarded user
-- (X-OpenWebUI-User-Id with the front-end key), later a JWT's issuer and subject.
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

CREATE TABLE user_identities (
    -- Who vouches for the subject ('openwebui' for a front end's forwarded users, a JWT's
    -- iss), and the subject's id there: together they name one user here.
    issuer text NOT NULL,
    subject text NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- As the issuer last said (not unique: two issuers may vouch for one address).
    email text,
    name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject),
    CONSTRAINT user_identities_issuer_check CHECK (char_length(issuer) BETWEEN 1 AND 255),
    CONSTRAINT user_identities_subject_check CHECK (char_length(subject) BETWEEN 1 AND 255),
    CONSTRAINT user_identities_email_check CHECK (char_length(email) <= 320),
    CONSTRAINT user_identities_name_check CHECK (char_length(name) <= 255)
);

COMMENT ON TABLE user_identities IS 'External identities (issuer and subject) of users: forwarded by a trusted front end, or signed in.';

-- A user's identities, and the cascade when a user is deleted.
CREATE INDEX user_identities_user_id_idx ON user_identities (user_id);

CREATE TRIGGER user_identities_set_updated_at
    BEFORE UPDATE ON user_identities
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
DROP TABLE user_identities;
