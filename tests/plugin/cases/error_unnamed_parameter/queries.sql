-- name: NextNumber :one
SELECT $1::int + 1 AS next_number;
