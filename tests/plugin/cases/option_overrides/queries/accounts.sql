-- name: GetAccount :one
SELECT * FROM accounts WHERE id = $1;

-- name: SetBalance :exec
UPDATE accounts SET balance = @balance, rate = @rate WHERE id = @id;

-- name: ListRates :many
SELECT rate FROM accounts;
