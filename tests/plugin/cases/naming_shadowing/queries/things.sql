-- name: GetThing :one
SELECT * FROM things
WHERE conn = @conn AND "row" = @row AND "rows" = @rows AND status = @status
  AND "value" = @value AND models = @models AND "int" = @int;

-- name: GetThingStatus :one
SELECT status FROM things
WHERE conn = @conn AND "row" = @row AND "value" = @value AND models = @models
  AND status = @status;

-- name: GetThingMood :one
SELECT mood FROM things WHERE models = @models AND "value" = @value;

-- name: CountThings :one
SELECT count(*) FROM things WHERE "row" = @row AND "value" = @value AND models = @models;

-- name: ListThingIds :many
SELECT id FROM things
WHERE "row" = @row AND "rows" = @rows AND "value" = @value AND models = @models;

-- name: ListThings :many
SELECT * FROM things WHERE models = @models AND "row" = @row AND "rows" = @rows;

-- name: UpdateThingStatus :execrows
UPDATE things SET status = @status WHERE "int" = @int AND "row" = @row AND conn = @conn;

-- name: SetThingStatus :exec
UPDATE things SET status = @status WHERE conn = @conn AND "value" = @value AND "int" = @int;

-- name: RenameThing :execresult
UPDATE things SET conn = @conn WHERE "row" = @row AND "rows" = @rows AND status = @status;

-- name: CopyThings :copyfrom
INSERT INTO things (conn, "row", "rows", status, "value", models, "int", mood)
VALUES (@conn, @row, @rows, @status, @value, @models, @int, @mood);

-- name: FindThing :one
SELECT * FROM things
WHERE conn = @conn AND "row" = @row AND "rows" = @rows AND status = @status
  AND "value" = @value AND models = @models AND "int" = @int AND mood = @mood;
