-- name: ListBooksByAuthor :many
SELECT * FROM books
WHERE author_id = sqlc.arg(author_id) AND title LIKE @title_pattern
ORDER BY title;

-- name: SearchBooks :many
SELECT * FROM books
WHERE (sqlc.narg(title)::text IS NULL OR title = sqlc.narg(title))
  AND (@published_after::date IS NULL OR published > @published_after)
ORDER BY title;

-- name: RenameBook :exec
UPDATE books SET title = coalesce(sqlc.narg(title), title), published = @published
WHERE id = @book_id;

-- name: GetBookWithAuthor :one
SELECT sqlc.embed(books), sqlc.embed(authors)
FROM books JOIN authors ON authors.id = books.author_id
WHERE books.id = @book_id;

-- name: ListBooksWithAuthorName :many
SELECT sqlc.embed(books), authors.name AS author_name
FROM books JOIN authors ON authors.id = books.author_id
ORDER BY books.title;
