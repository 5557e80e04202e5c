CREATE TABLE events (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    source text NOT NULL,
    payload jsonb NOT NULL,
    severity integer NOT NULL,
    happened_at timestamptz NOT NULL,
    note text
);
