-- name: GetAuthor :one
SELECT * FROM authors WHERE id = $1;

-- name: GetAuthorSummary :one
SELECT id, name FROM authors WHERE id = $1;

-- name: GetAuthorBio :one
SELECT bio FROM authors WHERE id = $1;

-- name: CountAuthors :one
SELECT count(*) FROM authors;

-- name: CreateAuthor :one
INSERT INTO authors (name, bio) VALUES ($1, $2) RETURNING *;

-- name: ListAuthors :many
SELECT * FROM authors ORDER BY name;

-- name: ListAuthorSummaries :many
SELECT id, name FROM authors ORDER BY name;

-- name: ListAuthorNames :many
SELECT name FROM authors ORDER BY name;

-- name: DeleteAuthor :exec
DELETE FROM authors WHERE id = $1;

-- name: ClearAuthorBios :execrows
UPDATE authors SET bio = NULL WHERE bio = '';

-- name: DeleteAuthorsWithoutBio :execresult
DELETE FROM authors WHERE bio IS NULL;

-- name: CopyAuthors :copyfrom
INSERT INTO authors (name, bio) VALUES ($1, $2);
