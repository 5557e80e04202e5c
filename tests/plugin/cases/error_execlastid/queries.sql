-- name: CreateAuthor :execlastid
INSERT INTO authors (name) VALUES ($1);
