-- name: ListPeople :many
SELECT * FROM people;

-- name: ListStatuses :many
SELECT * FROM statuses;

-- name: DeletePerson :exec
DELETE FROM people WHERE id = sqlc.arg('from') AND account_id = sqlc.arg('class');
