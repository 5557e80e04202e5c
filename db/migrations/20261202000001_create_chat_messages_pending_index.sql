-- migrate:up transaction:false
-- The sweep of abandoned answers (FailAbandonedAssistantMessagesForWorker) reads only pending
-- assistant messages by age: a small partial index, built CONCURRENTLY so that writes to
-- chat_messages go on while it builds. That needs no transaction around this file, and the
-- statement alone in it: PostgreSQL runs several statements sent at once as one implicit
-- transaction. A build that fails leaves an INVALID index: drop it and migrate again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS chat_messages_pending_updated_at_idx
    ON chat_messages (updated_at)
    WHERE status = 'pending';

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS chat_messages_pending_updated_at_idx;
