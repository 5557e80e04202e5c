-- name: CreateAnonymousUser :one
-- Creates an anonymous user (a real row, upgradable later).
INSERT INTO users (is_anonymous)
VALUES (true)
RETURNING *;

-- name: CreateUser :one
-- Creates a registered user.
INSERT INTO users (email, name)
VALUES (sqlc.narg(email), sqlc.narg(name))
RETURNING *;

-- name: GetUser :one
-- Returns the user with this id.
SELECT * FROM users
WHERE id = @user_id;

-- name: UpdateUser :one
-- Sets the name and/or email of a user (NULL keeps the current value); setting an email makes an anonymous user registered.
UPDATE users
SET name = coalesce(sqlc.narg(name), name),
    email = coalesce(sqlc.narg(email), email),
    is_anonymous = is_anonymous AND sqlc.narg(email)::text IS NULL
WHERE id = @user_id
RETURNING *;

-- name: DeleteUser :execrows
-- Deletes a user and, by cascade, everything the user owns.
DELETE FROM users
WHERE id = @user_id;

-- name: CopyUsers :copyfrom
-- Bulk-imports users (history migrated from another system, benchmark data sets).
INSERT INTO users (id, email, name, created_at)
VALUES ($1, $2, $3, $4);
