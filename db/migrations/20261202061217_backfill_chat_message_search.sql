-- migrate:up transaction:false
-- Why: the messages written before the chat_message_search triggers existed get their row, so
-- search finds old history too (the table and triggers: the migration before this one).
-- A batched backfill, the way a DBA runs one on a live table: walk chat_messages' primary key
-- in batches of 5,000 messages, insert their rows and COMMIT before the next batch. It never
-- updates a message: no new row versions, no WAL of the messages themselves, updated_at (a
-- pending answer's lease) untouched. The batch's messages are locked FOR KEY SHARE (the lock
-- the foreign key check takes anyway, taken first so a message deleted meanwhile is skipped
-- rather than failing the check): it blocks neither reads nor the completion of an answer
-- (a non-key UPDATE), and lasts until the batch commits, a fraction of a second.
-- ON CONFLICT DO NOTHING: a row the triggers wrote meanwhile is newer than what this batch
-- read, and stays; a message completed after this batch read it gets its row from the update
-- trigger, which overwrites. An interrupted run keeps the batches done, and runs again.
-- The configuration must be the one the triggers name (english) and the rule theirs: no row
-- for a message with no word to find.
-- COMMIT inside a DO block needs it to run outside a transaction block: hence
-- transaction:false and the DO alone in the file (several statements sent at once would run
-- as one implicit transaction).
-- lock_timeout: a row lock not granted within it fails the run (rerun it later); the whole
-- run is one statement, so statement_timeout would cut a long backfill short and is not set.
-- squawk-ignore require-lock-timeout, require-statement-timeout
DO $$
DECLARE
    after_id uuid := '00000000-0000-0000-0000-000000000000';
    last_id uuid;
BEGIN
    PERFORM set_config('lock_timeout', '2s', false);
    LOOP
        WITH batch AS (
            SELECT id, user_id, content FROM chat_messages
            WHERE id > after_id
            ORDER BY id
            LIMIT 5000
            FOR KEY SHARE
        ), filled AS (
            INSERT INTO chat_message_search (message_id, user_id, search_vector)
            SELECT batch.id, batch.user_id, words.vector
            FROM batch, to_tsvector('english', batch.content) AS words (vector)
            WHERE batch.content <> '' AND length(words.vector) > 0
            ON CONFLICT (message_id) DO NOTHING
        )
        SELECT id INTO last_id FROM batch ORDER BY id DESC LIMIT 1;
        EXIT WHEN last_id IS NULL;
        after_id := last_id;
        COMMIT;
    END LOOP;
END;
$$;

-- migrate:down
-- Nothing to undo: the table goes with the migration before this one.
