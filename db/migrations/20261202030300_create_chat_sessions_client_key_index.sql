-- migrate:up transaction:false
-- Why: a client's key names at most one of its user's sessions, found by the key
-- (GetSessionByClientKey, and the insert that starts a keyed session).
-- Built CONCURRENTLY, so reads and writes go on. The statement is alone in the file: dbmate
-- sends a file as one string, which PostgreSQL runs as one transaction, where CONCURRENTLY
-- is refused. So it sets no timeouts, and needs none: its lock never queues reads or writes,
-- and lock_timeout would cut the build short while it waits out older transactions. A failed
-- build leaves an INVALID index: drop it, then migrate again.
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS chat_sessions_user_id_client_key_key
    ON chat_sessions (user_id, client_key)
    WHERE client_key IS NOT NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS chat_sessions_user_id_client_key_key;
