-- migrate:up transaction:false
-- Why: a conversation an OpenAI-style client resends whole is found by the client message id
-- of its last question, among all the user's sessions (GetSessionOfClientMessage).
-- Built CONCURRENTLY, so reads and writes go on. The statement is alone in the file: dbmate
-- sends a file as one string, which PostgreSQL runs as one transaction, where CONCURRENTLY
-- is refused. So it sets no timeouts, and needs none: its lock never queues reads or writes,
-- and lock_timeout would cut the build short while it waits out older transactions. A failed
-- build leaves an INVALID index: drop it, then migrate again.
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS chat_messages_user_id_client_message_id_idx
    ON chat_messages (user_id, client_message_id)
    WHERE client_message_id IS NOT NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS chat_messages_user_id_client_message_id_idx;
