-- name: GetPlace :one
SELECT * FROM places WHERE id = $1;

-- name: SearchPlaces :many
SELECT id, location FROM places WHERE search @@ to_tsquery(@query);

-- name: MovePlace :exec
UPDATE places SET location = @location WHERE id = @id;
