-- migrate:up
-- Why: a regenerated answer (POST /messages/{id}/regenerate) supersedes the earlier answer
-- to the same question; the history hides superseded answers unless asked for all of them.
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

-- A nullable column without a default: a catalog change, no rewrite. The CHECK is added
-- NOT VALID (no scan under the ACCESS EXCLUSIVE lock) and validated in a migration of its
-- own. Only a settled answer is superseded: a pending one is still being written.
ALTER TABLE chat_messages ADD COLUMN superseded_at timestamptz;
COMMENT ON COLUMN chat_messages.superseded_at IS
    'When a regenerated answer to the same question replaced this answer; NULL for the current one.';
ALTER TABLE chat_messages
    ADD CONSTRAINT chat_messages_superseded_at_check
    CHECK (superseded_at IS NULL OR (role = 'assistant' AND status <> 'pending')) NOT VALID;

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
ALTER TABLE chat_messages DROP COLUMN superseded_at;
