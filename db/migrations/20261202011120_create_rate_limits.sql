-- migrate:up
-- A new table only: nothing existing is rewritten or locked. Still, never wait long for a
-- lock in a migration (the service keeps serving while it runs).
SET LOCAL lock_timeout = '5s';

-- UNLOGGED: counters are written on every limited request, and losing them in a crash (or
-- a failover) only resets the current windows early. fillfactor 70 leaves room on each page
-- so that incrementing a counter is a HOT update (no index touched).
CREATE UNLOGGED TABLE rate_limits (
    -- What is limited ('chat_turns', 'anonymous_users', ...) and for whom: a user id, or a
    -- client address for limits on clients without a credential.
    bucket text NOT NULL,
    key text NOT NULL,
    -- Fixed windows, aligned to the epoch: every replica counts into the same row.
    window_start timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    -- Requests (or bytes) admitted in this window.
    count bigint NOT NULL,
    PRIMARY KEY (bucket, key, window_start),
    CONSTRAINT rate_limits_window_check CHECK (expires_at > window_start),
    CONSTRAINT rate_limits_count_check CHECK (count >= 0)
) WITH (fillfactor = 70);

COMMENT ON TABLE rate_limits IS 'Abuse-limit counters shared by every service replica: what was admitted per bucket, key and fixed time window.';

-- Expired windows are purged in small batches, oldest first.
CREATE INDEX rate_limits_expires_at_idx ON rate_limits (expires_at);

-- migrate:down
SET LOCAL lock_timeout = '5s';
DROP TABLE rate_limits;
