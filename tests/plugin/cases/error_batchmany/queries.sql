-- name: ListAuthorsByIds :batchmany
SELECT * FROM authors WHERE id = $1;
