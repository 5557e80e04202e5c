-- name: CreateCredential :one
-- Issues a credential: stores the sha256 hash of a new random token.
INSERT INTO user_credentials (user_id, token_hash, kind, label, expires_at)
VALUES (@user_id, @token_hash, @kind, sqlc.narg(label), @expires_at)
RETURNING *;

-- name: AuthenticateCredential :one
-- Finds the valid (unrevoked, unexpired) credential with this token hash and records its use (at most once a minute), in one statement: this is how a request's user is found.
WITH found AS (
    SELECT * FROM user_credentials AS valid
    WHERE valid.token_hash = @token_hash
      AND valid.revoked_at IS NULL
      AND valid.expires_at > now()
), touched AS (
    UPDATE user_credentials
    SET last_used_at = now()
    FROM found
    WHERE user_credentials.id = found.id
      AND (found.last_used_at IS NULL OR found.last_used_at < now() - interval '60 seconds')
)
SELECT * FROM found;

-- name: RevokeCredential :execrows
-- Revokes one of a user's credentials, and tells the service processes that cache credentials (LISTEN credential_revoked) which one, once the transaction commits.
WITH revoked AS (
    UPDATE user_credentials
    SET revoked_at = now()
    WHERE id = @credential_id
      AND user_id = @user_id
      AND revoked_at IS NULL
    RETURNING id
)
SELECT pg_notify('credential_revoked', revoked.id::text) FROM revoked;

-- name: PurgeExpiredCredentialsRetention :execrows
-- Deletes credentials that expired before the cutoff.
DELETE FROM user_credentials
WHERE expires_at < @cutoff;
