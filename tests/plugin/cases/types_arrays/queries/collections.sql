-- name: GetCollection :one
SELECT * FROM collections WHERE id = $1;

-- name: ListCollectionsByIds :many
SELECT * FROM collections WHERE id = ANY(@ids::bigint[]);

-- name: ListTags :many
SELECT tags FROM collections ORDER BY id;

-- name: ListColors :many
SELECT colors FROM collections ORDER BY id;

-- name: UpdateTags :execrows
UPDATE collections SET tags = @tags, colors = @colors WHERE id = ANY(@ids::bigint[]);
