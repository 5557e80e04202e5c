-- Python keywords (class, from, global) and soft keywords (match, case, type) as names.
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    "class" text NOT NULL,
    "from" timestamptz NOT NULL,
    "global" boolean NOT NULL DEFAULT false,
    "match" text,
    "case" integer,
    "type" text NOT NULL,
    status text NOT NULL
);
