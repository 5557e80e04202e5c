-- name: GetSample :one
SELECT * FROM samples LIMIT 1;

-- name: InsertSample :exec
INSERT INTO samples (
    small_int, regular_int, big_int, exact, single, double, flag, body, label, code, email,
    uid, payload, day, clock, zoned_clock, local_at, happened_at, duration, document,
    binary_document, address, network
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23
);

-- name: ListNullableSamples :many
SELECT * FROM nullable_samples;

-- name: InsertNullableSample :exec
INSERT INTO nullable_samples (small_int, exact, label, happened_at, document)
VALUES ($1, $2, $3, $4, $5);

-- name: FindSamplesByDocument :many
SELECT uid, binary_document FROM samples WHERE binary_document @> $1;
