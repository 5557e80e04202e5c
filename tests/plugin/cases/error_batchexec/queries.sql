-- name: UpdateAuthorNames :batchexec
UPDATE authors SET name = $1 WHERE id = $2;
