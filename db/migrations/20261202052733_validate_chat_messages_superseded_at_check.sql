-- migrate:up
-- Why: chat_messages_superseded_at_check, added NOT VALID, checked for the rows already there.
-- VALIDATE takes a SHARE UPDATE EXCLUSIVE lock: reads and writes go on while it scans, so the
-- scan may take longer than the usual statement_timeout on a large table.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10min';

ALTER TABLE chat_messages VALIDATE CONSTRAINT chat_messages_superseded_at_check;

-- migrate:down
-- Nothing to undo: a validated constraint is dropped with its column.
