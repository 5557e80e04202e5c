-- migrate:up transaction:false
-- Why: erasure finds the erased user's audit rows by actor (EraseAuditDetails) without
-- reading the whole, ever-growing log.
-- Built CONCURRENTLY, so reads and writes go on. The statement is alone in the file: dbmate
-- sends a file as one string, which PostgreSQL runs as one transaction, where CONCURRENTLY
-- is refused. So it sets no timeouts, and needs none: its lock never queues reads or writes,
-- and lock_timeout would cut the build short while it waits out older transactions. A failed
-- build leaves an INVALID index: drop it, then migrate again.
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_log_actor_user_id_idx
    ON audit_log (actor_user_id)
    WHERE actor_user_id IS NOT NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS audit_log_actor_user_id_idx;
