-- name: CreateValue :one
-- Insert one row with every type and return it as the table model.
INSERT INTO rt_values (
    label, small_value, int_value, big_value, numeric_value, real_value, double_value,
    bool_value, varchar_value, char_value, citext_value, uuid_value, bytea_value, date_value,
    time_value, timestamp_value, timestamptz_value, interval_value, json_value, jsonb_value,
    inet_value, cidr_value, mood, moods, int_array, text_array, uuid_array
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23, $24, $25, $26, $27
)
RETURNING *;

-- name: GetValue :one
SELECT * FROM rt_values WHERE id = $1;

-- name: GetValueLabel :one
SELECT label FROM rt_values WHERE id = $1;

-- name: GetValueMood :one
SELECT mood FROM rt_values WHERE id = $1;

-- name: ListValueSummaries :many
SELECT id, label, mood, jsonb_value FROM rt_values WHERE label LIKE sqlc.arg(prefix) || '%' ORDER BY id;

-- name: ListLabels :many
SELECT label FROM rt_values ORDER BY id;

-- name: FindValues :many
-- Optional filters: a NULL narg matches everything.
SELECT * FROM rt_values
WHERE (sqlc.narg(mood)::rt_mood IS NULL OR mood = sqlc.narg(mood))
  AND (sqlc.narg(min_int)::integer IS NULL OR int_value >= sqlc.narg(min_int))
ORDER BY id;

-- name: RenameValue :exec
UPDATE rt_values SET label = @label WHERE id = @id;

-- name: DeleteValuesByLabel :execrows
DELETE FROM rt_values WHERE label = $1;

-- name: TouchAll :execresult
UPDATE rt_values SET bool_value = true;

-- name: CopyNotes :copyfrom
INSERT INTO rt_notes (value_id, body) VALUES ($1, $2);

-- name: ListNotesWithValue :many
SELECT sqlc.embed(rt_notes), sqlc.embed(rt_values) FROM rt_notes JOIN rt_values ON rt_values.id = rt_notes.value_id ORDER BY rt_notes.id;
