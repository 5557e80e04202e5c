CREATE TABLE places (
    id bigserial PRIMARY KEY,
    location point NOT NULL,
    search tsvector
);
