-- name: ListReadings :many
SELECT "int", "uuid", amount FROM readings WHERE device_id = @device_id;

-- name: ListReadingUuids :many
SELECT "uuid", device_id FROM readings WHERE "int" = @int AND "uuid" = @uuid;
