CREATE TABLE authors (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    bio text
);

-- Same columns as authors: a CTE over either is ambiguous, so it gets a row class.
CREATE TABLE editors (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    bio text
);

CREATE TABLE books (
    id bigserial PRIMARY KEY,
    author_id bigint NOT NULL REFERENCES authors (id),
    title text NOT NULL
);
