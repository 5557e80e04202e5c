-- migrate:up
-- Why: a session a client names by a key of its own (a chat widget's string session id, a
-- front end's chat id), unique per user (the next migrations validate and index it).
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

-- A nullable column without a default: a catalog change, no rewrite. The CHECK is added
-- NOT VALID (no scan under the ACCESS EXCLUSIVE lock) and validated in a migration of its own.
ALTER TABLE chat_sessions ADD COLUMN client_key text;
ALTER TABLE chat_sessions
    ADD CONSTRAINT chat_sessions_client_key_check
    CHECK (char_length(client_key) BETWEEN 1 AND 255) NOT VALID;

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
ALTER TABLE chat_sessions DROP COLUMN client_key;
