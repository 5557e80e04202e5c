-- name: GetAuthors :batchone
SELECT * FROM authors WHERE id = $1;
