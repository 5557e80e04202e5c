CREATE EXTENSION IF NOT EXISTS citext;

-- Every supported scalar type, NOT NULL, in the spelling a schema usually has.
CREATE TABLE samples (
    small_int smallint NOT NULL,
    regular_int integer NOT NULL,
    big_int bigint NOT NULL,
    small_serial smallserial NOT NULL,
    regular_serial serial NOT NULL,
    big_serial bigserial NOT NULL,
    exact numeric(12, 2) NOT NULL,
    single real NOT NULL,
    double double precision NOT NULL,
    flag boolean NOT NULL,
    body text NOT NULL,
    label varchar(40) NOT NULL,
    code char(3) NOT NULL,
    email citext NOT NULL,
    uid uuid NOT NULL,
    payload bytea NOT NULL,
    day date NOT NULL,
    clock time NOT NULL,
    zoned_clock timetz NOT NULL,
    local_at timestamp NOT NULL,
    happened_at timestamptz NOT NULL,
    duration interval NOT NULL,
    document json NOT NULL,
    binary_document jsonb NOT NULL,
    address inet NOT NULL,
    network cidr NOT NULL
);

-- The same types in their internal spellings, all nullable.
CREATE TABLE nullable_samples (
    small_int int2,
    regular_int int4,
    big_int int8,
    exact decimal,
    single float4,
    double float8,
    flag bool,
    label character varying,
    code character(1),
    local_at timestamp without time zone,
    happened_at timestamp with time zone,
    clock time without time zone,
    document jsonb
);
