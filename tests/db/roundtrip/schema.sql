-- Every type the plugin maps, nullable, so round trips can check values and NULLs.
CREATE EXTENSION IF NOT EXISTS citext;

CREATE TYPE rt_mood AS ENUM ('happy', 'sad', 'in-between');

CREATE TABLE rt_values (
    id bigserial PRIMARY KEY,
    label text NOT NULL,
    small_value smallint,
    int_value integer,
    big_value bigint,
    numeric_value numeric,
    real_value real,
    double_value double precision,
    bool_value boolean,
    varchar_value varchar(200),
    char_value char(3),
    citext_value citext,
    uuid_value uuid,
    bytea_value bytea,
    date_value date,
    time_value time,
    timestamp_value timestamp,
    timestamptz_value timestamptz,
    interval_value interval,
    json_value json,
    jsonb_value jsonb,
    inet_value inet,
    cidr_value cidr,
    mood rt_mood,
    moods rt_mood[],
    int_array integer[],
    text_array text[],
    uuid_array uuid[]
);

COMMENT ON TABLE rt_values IS 'One row per round-trip case.';

CREATE TABLE rt_notes (
    id bigserial PRIMARY KEY,
    value_id bigint NOT NULL REFERENCES rt_values (id) ON DELETE CASCADE,
    body text NOT NULL
);
