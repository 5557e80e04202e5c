-- migrate:up transaction:false
-- Why: an export pages through a user's sessions by id (ListSessionsForExport), an order
-- that a chat turn in another tab cannot change under it (last activity can).
-- Built CONCURRENTLY, so reads and writes go on. The statement is alone in the file: dbmate
-- sends a file as one string, which PostgreSQL runs as one transaction, where CONCURRENTLY
-- is refused. So it sets no timeouts, and needs none: its lock never queues reads or writes,
-- and lock_timeout would cut the build short while it waits out older transactions. A failed
-- build leaves an INVALID index: drop it, then migrate again.
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS chat_sessions_user_id_id_idx
    ON chat_sessions (user_id, id);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS chat_sessions_user_id_id_idx;
