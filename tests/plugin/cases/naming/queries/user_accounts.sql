-- name: GetUserAccount :one
SELECT * FROM user_accounts WHERE id = $1;

-- name: FindAccountsByClass :many
-- Only a parameter the function itself uses (conn) gets a trailing underscore.
SELECT id FROM user_accounts WHERE "class" = @conn AND id > @row AND "displayName" = @status;

-- name: ListAccountPairs :many
SELECT a.id, b.id, a."displayName", b."displayName"
FROM user_accounts a JOIN user_accounts b ON a.id < b.id;

-- name: GetAnswer :one
SELECT 42;
