-- Columns named like what generated code uses: conn, row, rows, status, value, models, int.
-- A keyword parameter is renamed only when its function uses that name: conn always;
-- row, value and models in :one (models when the result is built from it); rows in :many;
-- status and int in :execrows. A field of a class (model, row, params struct, :copyfrom
-- record) is renamed only when a later field's annotation reads its name (int, uuid, models).
CREATE TYPE mood AS ENUM ('calm', 'busy');

CREATE TABLE things (
    id bigserial PRIMARY KEY,
    conn text NOT NULL,
    "row" text NOT NULL,
    "rows" integer NOT NULL,
    status text NOT NULL,
    "value" integer NOT NULL,
    models text NOT NULL,
    "int" integer NOT NULL,
    mood mood NOT NULL
);

CREATE TABLE readings (
    id bigserial PRIMARY KEY,
    "int" integer NOT NULL,
    "uuid" uuid NOT NULL,
    device_id uuid,
    amount integer
);
