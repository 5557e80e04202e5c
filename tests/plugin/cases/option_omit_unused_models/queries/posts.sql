-- name: GetPostWithAuthor :one
SELECT sqlc.embed(posts), sqlc.embed(users)
FROM posts JOIN users ON users.id = posts.user_id
WHERE posts.id = $1;

-- name: ListTitlesByTone :many
SELECT title FROM posts WHERE tone = $1;
