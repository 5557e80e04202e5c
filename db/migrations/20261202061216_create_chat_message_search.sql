-- migrate:up
-- Why: full-text search over a user's own messages (GET /search, GET /sessions?q=) reads a
-- tsvector of each message that the database keeps in a table of its own (issue 17).
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

-- Why a side table rather than a column of chat_messages: a tsvector is about as large as the
-- content it is made from, and every SELECT * / RETURNING * on chat_messages (the history
-- read, the chat turn's append and completion, regenerate) would ship and decode it for
-- nothing; the backfill of a column would also rewrite every message row (WAL of the whole
-- table, a new version of each row in each of its indexes) and move updated_at, which is a
-- pending answer's lease. Here the backfill (the next migration) only inserts into this table.
--
-- How this reaches a large live table without stopping its writes, in three migrations:
-- 1. this one, in one short transaction: the empty table and the triggers that fill it for
--    every message written from now on. chat_messages is locked only to add the triggers and
--    the foreign key's (SHARE ROW EXCLUSIVE: writes wait for the commit, a few milliseconds;
--    reads go on).
-- 2. the next one: the messages already there, in committed batches (never an UPDATE of a
--    message).
-- 3. the GIN index, built CONCURRENTLY once the table is full.
-- Why the index comes last, though a new empty table's index could be built here at no cost:
-- the triggers and the backfill would then insert every row into a live GIN index (each entry
-- written to its pending list, then again into the tree), twice the WAL of the whole change
-- (measured at 10^5 messages: 70 MiB with the index here, 36 MiB with it built last, against
-- 81 MiB for the former search_vector column, whose backfill also doubled chat_messages'
-- size). Nothing reads the table before the index exists: the service that searches it ships
-- after these migrations.
--
-- The text-search configuration is the triggers' argument, chosen here: english (stems and
-- stopwords); the backfill names the same one. The service's SEARCH_CONFIG must name it too,
-- since it parses queries with it (websearch_to_tsquery); a query parsed with another
-- configuration silently misses (english stores "running" as 'run'). To change it (simple,
-- for mixed languages): a migration that re-creates both triggers with the new name and
-- recomputes search_vector in batches from chat_messages.content, then the new SEARCH_CONFIG.
-- One configuration for the whole table, rather than one stored per row, because an index
-- can only serve a query parsed with one configuration.
-- Triggers (not the SQL that writes messages) keep the table: every writer, the bulk
-- :copyfrom loads included, gets it without knowing about it.

-- The GIN index over (user_id, search_vector) (built after the backfill) needs btree_gin (a
-- trusted contrib extension on PostgreSQL 13+: the database owner may create it; Neon has it).
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE chat_message_search (
    message_id uuid PRIMARY KEY,
    -- The message's user, so that the index holds each user's postings apart.
    user_id uuid NOT NULL,
    search_vector tsvector NOT NULL,
    -- The composite key makes the row follow its message: gone with it, and moved with it
    -- when a claim gives the message to another user (ON UPDATE CASCADE: the claim need not
    -- know this table exists).
    CONSTRAINT chat_message_search_message_fkey FOREIGN KEY (message_id, user_id)
        REFERENCES chat_messages (id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

COMMENT ON TABLE chat_message_search IS
    'The words of each message that has any, as the search index reads them; kept by the chat_messages_*_search triggers.';
COMMENT ON COLUMN chat_message_search.search_vector IS
    'to_tsvector of the message''s content, with the configuration the triggers name; never empty.';

-- A message with no word to find (a pending answer's '', only stopwords) has no row: no
-- query could find it. Its row goes when an edit leaves it none.
CREATE FUNCTION chat_message_search_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    vector tsvector := to_tsvector(TG_ARGV[0]::regconfig, NEW.content);
BEGIN
    IF length(vector) > 0 THEN
        INSERT INTO chat_message_search (message_id, user_id, search_vector)
        VALUES (NEW.id, NEW.user_id, vector)
        ON CONFLICT (message_id) DO UPDATE SET search_vector = excluded.search_vector;
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM chat_message_search WHERE message_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION chat_message_search_sync() IS
    'AFTER INSERT/UPDATE trigger on chat_messages: writes the message''s chat_message_search row (to_tsvector with the configuration named by the trigger argument), or deletes it when the content has no word.';

-- Two triggers, so that their WHEN clauses skip, without calling the function, the writes
-- with nothing to do: the pending answer every chat turn inserts (content ''), and an UPDATE
-- that sets content to what it was. Completing an answer changes its content: it gets its row.
CREATE TRIGGER chat_messages_insert_search
    AFTER INSERT ON chat_messages
    FOR EACH ROW WHEN (NEW.content <> '')
    EXECUTE FUNCTION chat_message_search_sync('english');

CREATE TRIGGER chat_messages_update_search
    AFTER UPDATE OF content ON chat_messages
    FOR EACH ROW WHEN (OLD.content IS DISTINCT FROM NEW.content)
    EXECUTE FUNCTION chat_message_search_sync('english');

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
DROP TRIGGER chat_messages_update_search ON chat_messages;
DROP TRIGGER chat_messages_insert_search ON chat_messages;
DROP FUNCTION chat_message_search_sync();
DROP TABLE chat_message_search;
DROP EXTENSION IF EXISTS btree_gin;
