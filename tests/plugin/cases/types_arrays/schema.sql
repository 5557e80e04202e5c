CREATE TYPE color AS ENUM ('red', 'green', 'blue');

CREATE TABLE collections (
    id bigserial PRIMARY KEY,
    tags text[] NOT NULL,
    scores integer[],
    matrix integer[][] NOT NULL,
    prices numeric[] NOT NULL,
    flags boolean[] NOT NULL,
    ids uuid[] NOT NULL,
    blobs bytea[],
    days date[] NOT NULL,
    moments timestamptz[] NOT NULL,
    documents jsonb[] NOT NULL,
    addresses inet[] NOT NULL,
    colors color[] NOT NULL,
    maybe_colors color[],
    color_grid color[][] NOT NULL
);
