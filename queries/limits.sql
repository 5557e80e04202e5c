-- name: HitRateLimit :one
-- Counts cost against key's limit in bucket for the current fixed window (window_seconds long, aligned to the epoch, by the database's clock so that every replica agrees), only when the count stays within max_count. Returns the new count (NULL: over the limit, nothing counted) and the seconds until the window ends. One statement: concurrent requests are serialized on the counter's row, so exactly max_count are admitted.
WITH current_window AS (
    SELECT date_bin(
        make_interval(secs => @window_seconds::integer), now(), TIMESTAMPTZ '2000-01-01 00:00:00+00'
    ) AS window_start
), counted AS (
    INSERT INTO rate_limits (bucket, key, window_start, expires_at, count)
    SELECT @bucket::text, @key::text, window_start,
           window_start + make_interval(secs => @window_seconds::integer), @cost::bigint
    FROM current_window
    WHERE @cost::bigint <= @max_count::bigint
    ON CONFLICT (bucket, key, window_start) DO UPDATE
    SET count = rate_limits.count + excluded.count
    WHERE rate_limits.count + excluded.count <= @max_count::bigint
    RETURNING rate_limits.count
)
SELECT (SELECT counted.count FROM counted) AS count,
       ceil(extract(epoch FROM
           window_start + make_interval(secs => @window_seconds::integer) - now()
       ))::integer AS retry_after_seconds
FROM current_window;

-- name: PurgeExpiredRateLimits :execrows
-- Deletes up to max_rows counters whose window has ended, oldest first: found by the expires_at index, deleted by their row addresses, so the cost is that of the batch whatever the table's size.
DELETE FROM rate_limits
WHERE ctid = ANY (ARRAY(
    SELECT expired.ctid
    FROM rate_limits AS expired
    WHERE expired.expires_at < now()
    ORDER BY expired.expires_at
    LIMIT @max_rows
));
