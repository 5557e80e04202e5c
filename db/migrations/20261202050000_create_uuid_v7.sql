-- migrate:up
-- Why: time-ordered keys for the tables that grow with every chat turn. A random UUID puts
-- each new row's key on a random page of the primary key index, so after every checkpoint
-- nearly each insert writes that page whole to the WAL; a UUIDv7 (RFC 9562: milliseconds
-- since the epoch, then random bits) puts it on the rightmost page, which stays hot.
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

-- One definition for every supported server (PostgreSQL 18 has uuidv7(), 15 does not, and
-- db/schema.sql is one file): a version 4 UUID with its first 48 bits replaced by the time
-- in milliseconds, and its version nibble turned from 4 (0100) into 7 (0111) by setting
-- bits 52 and 53 (set_bit counts from the least significant bit of each byte). Within a
-- millisecond the order is random, which an index does not mind.
CREATE FUNCTION uuid_v7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $$
    SELECT encode(
        set_bit(
            set_bit(
                overlay(
                    uuid_send(gen_random_uuid())
                    PLACING substring(
                        int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                        FROM 3
                    )
                    FROM 1 FOR 6
                ),
                52, 1
            ),
            53, 1
        ),
        'hex'
    )::uuid
    $$;

COMMENT ON FUNCTION uuid_v7() IS 'A time-ordered UUID (version 7, RFC 9562) with millisecond precision.';

-- New defaults apply to new rows only: a catalog change, no rewrite.
ALTER TABLE chat_messages ALTER COLUMN id SET DEFAULT uuid_v7();
ALTER TABLE chat_sessions ALTER COLUMN id SET DEFAULT uuid_v7();
ALTER TABLE document_chunks ALTER COLUMN id SET DEFAULT uuid_v7();

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
ALTER TABLE document_chunks ALTER COLUMN id SET DEFAULT gen_random_uuid();
ALTER TABLE chat_sessions ALTER COLUMN id SET DEFAULT gen_random_uuid();
ALTER TABLE chat_messages ALTER COLUMN id SET DEFAULT gen_random_uuid();
DROP FUNCTION uuid_v7();
