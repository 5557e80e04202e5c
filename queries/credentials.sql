-- name: CreateCredential :one
-- Issues a credential: stores the sha256 hash of a new random token.
INSERT INTO user_credentials (user_id, token_hash, kind, label, expires_at)
VALUES (@user_id, @token_hash, @kind, sqlc.narg(label), @expires_at)
RETURNING *;

-- name: GetCredentialByHash :one
-- Finds the valid (unrevoked, unexpired) credential with this token hash; this is how a request's user is found.
SELECT * FROM user_credentials
WHERE token_hash = @token_hash
  AND revoked_at IS NULL
  AND expires_at > now();

-- name: ListCredentials :many
-- Lists a user's credentials, newest first.
SELECT * FROM user_credentials
WHERE user_id = @user_id
ORDER BY created_at DESC;

-- name: TouchCredential :exec
-- Records that a credential was used, at most once a minute.
UPDATE user_credentials
SET last_used_at = now()
WHERE id = @credential_id
  AND user_id = @user_id
  AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds');

-- name: RevokeCredential :execrows
-- Revokes one of a user's credentials.
UPDATE user_credentials
SET revoked_at = now()
WHERE id = @credential_id
  AND user_id = @user_id
  AND revoked_at IS NULL;

-- name: RevokeCredentialByHash :execrows
-- Revokes the credential with this token hash (logout).
UPDATE user_credentials
SET revoked_at = now()
WHERE token_hash = @token_hash
  AND user_id = @user_id
  AND revoked_at IS NULL;

-- name: RevokeUserCredentials :execrows
-- Revokes every credential of a user.
UPDATE user_credentials
SET revoked_at = now()
WHERE user_id = @user_id
  AND revoked_at IS NULL;

-- name: PurgeExpiredCredentialsRetention :execrows
-- Deletes credentials that expired before the cutoff.
DELETE FROM user_credentials
WHERE expires_at < @cutoff;
