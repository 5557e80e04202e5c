-- name: GetAuthor :one
SELECT * FROM authors WHERE id = $1;

-- name: UpdateAuthorBio :exec
UPDATE authors SET bio = $1 WHERE id = $2;

-- name: ListBookTitles :many
SELECT author_id, title FROM books WHERE author_id = $1;
