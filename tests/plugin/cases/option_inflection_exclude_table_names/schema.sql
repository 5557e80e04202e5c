CREATE TABLE users (
    id bigserial PRIMARY KEY
);

CREATE TABLE categories (
    id bigserial PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE user_settings (
    user_id bigint PRIMARY KEY REFERENCES users (id),
    theme text NOT NULL
);
