-- name: ListAuthorsByIds :many
SELECT * FROM authors WHERE id IN (sqlc.slice(ids));
