-- name: GetNote :one
-- Fetch one note by id.
SELECT * FROM notes WHERE id = $1;

-- name: ListNotes :many
-- List every note, newest first.
--
-- Archived notes are included.
-- @sqlc-vet-disable
SELECT * FROM notes ORDER BY id DESC;

-- name: ArchiveNote :execrows
-- @sqlc-vet-disable
-- Archive a note; returns 1 when it existed.
UPDATE notes SET archived_at = now() WHERE id = $1;

-- name: QuoteNote :one
-- Says "hello" with a backslash \ and """triple quotes""".
SELECT body FROM notes WHERE id = $1;

-- name: CountTags :one
SELECT count(*) FROM tags;
