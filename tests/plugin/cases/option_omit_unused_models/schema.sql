CREATE TYPE role AS ENUM ('reader', 'writer');
CREATE TYPE tone AS ENUM ('formal', 'casual');
CREATE TYPE unused_kind AS ENUM ('a', 'b');

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    role role NOT NULL
);

CREATE TABLE posts (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    tone tone NOT NULL,
    title text NOT NULL
);

CREATE TABLE audit_entries (
    id bigserial PRIMARY KEY,
    kind unused_kind NOT NULL
);
