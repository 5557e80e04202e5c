-- name: ListUsers :many
SELECT * FROM users;

-- name: ListCategories :many
SELECT * FROM categories;

-- name: GetUserSettings :one
SELECT * FROM user_settings WHERE user_id = $1;
