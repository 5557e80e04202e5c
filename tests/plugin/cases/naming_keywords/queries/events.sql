-- name: GetEvent :one
SELECT * FROM events WHERE id = $1;

-- name: ListEventsByType :many
-- Keywords get a trailing underscore; soft keywords and other words keep their SQL name.
SELECT id, "class", "match", "case" FROM events
WHERE "type" = @type
  AND "match" = @match
  AND status = @status
  AND "class" = sqlc.arg('class')
  AND "from" > sqlc.arg('from');

-- name: Match :one
SELECT "type", "case" FROM events WHERE id = @id;

-- name: Global :execrows
DELETE FROM events WHERE "global" AND "case" = sqlc.arg('case');
