-- name: AddBookWithAuthor :one
-- The CTE's columns are exactly the books table's: the query returns the Book model.
WITH author AS (
    INSERT INTO authors (name) VALUES (@author_name) RETURNING id
), book AS (
    INSERT INTO books (author_id, title)
    SELECT author.id, @title FROM author
    RETURNING *
)
SELECT * FROM book;

-- name: RenameAuthor :one
-- Matches both authors and editors: a row class, not a guess.
WITH renamed AS (
    UPDATE authors SET name = @name WHERE authors.id = @id RETURNING *
)
SELECT * FROM renamed;

-- name: BookTitles :many
-- Only some of the columns: a row class.
WITH titles AS (
    SELECT books.id, books.title FROM books
)
SELECT * FROM titles;
